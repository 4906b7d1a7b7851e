"""sha256 of each shipped preset's config.json and weights, kept in code apart from the
preset folders: `Preset.verify` refuses a shipped preset whose files differ, even if its
metadata.json was rewritten to match. Written by `python -m zoo.publish --write-manifest`.
"""

SHIPPED = {
    'beta_vae_mnist': {
        'config.json': '3bc6cf041122ec531d9286a2c3711192a804f2a17f7b6735dbaf124c648d042f',
        'model.weights.h5': 'ab57719bfe3b44d9383bc34d8da7ec25ae58e6ab9f319761fb4734bccb308658',
    },
    'cgan_mnist': {
        'config.json': 'c5f3467b98fbbadde9820d51527839bdf6f585a1de2565611e06e3e03f36f820',
        'model.weights.h5': '32918d23088ee75aab3e64116c6c09cda49eadba4618da7cee0b4b8d9c63e5c2',
    },
    'clip_anime': {
        'config.json': 'c6e2d8ce98b1097a71d0dd32e6d8c00b44aa331dc5be2bab791e751827cbc3f9',
        'model.weights.h5': '0e62592fc7338213f467d0c2418f7c0da850e7a101a04fd9f1b5d768006e0ced',
    },
    'clip_fashion': {
        'config.json': '48a2b29cc835a42ef9326489894a1210e2e88bcc8edc4c574cbe835e19016371',
        'model.weights.h5': '892718d76f455818be157815666508fc36741b1307d8e68dc714d1f8ce6ece1b',
    },
    'dcgan_anime': {
        'config.json': '5d4d32c857b8acc63a335e4a280726ba3e587c73f4f7a1446cc55466c3bae94c',
        'model.weights.h5': '6941a81aa5ba6e989d00d3c8ce8b14bbde02d3c4a2776e775bf1c4ca71acb550',
    },
    'ddpm_anime': {
        'config.json': '982e731b33525d80cd3cae8f2fbe423c6cca298018d7eeb35727ab3005986ac3',
        'model.weights.h5': 'e6fd4e6cb2fe82740907a92a41a69f5ef08dab42f2fe42a20255fb0a290b56ee',
    },
    'ddpm_fashion': {
        'config.json': '00c524f9b16770eb91fcf1694a6e850d5deef7aa6792b881fd123b76e7ffdcd0',
        'model.weights.h5': 'd1c89ac33a661641f71f6bfea073cdf089913dcbd5c26f79da0bac5939172479',
    },
    'ddpm_mnist': {
        'config.json': 'eefd3ee9a787ede9c1ac406381562acb4ac13225a9d2b93b7ce8ef8f45734934',
        'model.weights.h5': 'd892c85e5693d21759e72152bd82311620f536e19b2241c4923726461bad0d58',
    },
    'features_anime': {
        'config.json': '0c526326edf78e9b6243fb2307124799fc2d597eadc06366f1816089f8a64b2d',
        'model.weights.h5': '36b8c2e00781bec2f5404297e03b9b2e45f99266ac51bb6a2a343d7e8970d743',
    },
    'features_clothing': {
        'config.json': 'ac17651405c757171c7102cc51fcdb3fbdc500c2a685eaad0b039892f544ee59',
        'model.weights.h5': 'bfbc5ab25d5813603694dcc1ebac37f0011578dc00b45eaee538ad35232188c5',
    },
    'features_digits': {
        'config.json': '373efda25d432ed4a1945ee7e8967871a8a16a964bea4c7cd5c261523ccb2d3e',
        'model.weights.h5': 'c78841549425ee93f7dc0b0705767a0d21e98d5ade25763a70708ee1e3a5b305',
    },
    'gan_mnist': {
        'config.json': '27573abb18d3f35929a7edd2873d3e68e07ef916565d4391fe91e36e9be945d6',
        'model.weights.h5': '550377acc51256f0abc65575b2b28d91eefb415a7d15f0748ba639fbb2146ee4',
    },
    'gpt_shakespeare': {
        'config.json': '4adaa5e7daada7b46eed070de865339770d0101888382184a6c427484b7c936d',
        'model.weights.h5': '873c5754e19a2cf69f3da4d97bea76f4e61a3f252b29cd4c07737a9e71e05b26',
    },
    'gpt_tang': {
        'config.json': 'e2403c1745fb939f290cd1065fed9ea79a185a862bdf96014c69cdfc0826234d',
        'model.weights.h5': '434afb83549415e89230b2bd7633eeff92a7b608f4bcd3c60fb18698d6cce846',
    },
    'stylegan_anime': {
        'config.json': '0b811ef6e048cc476c23fc6cff594358eb97b6ff0ab566b6725a5456c8fe2892',
        'model.weights.h5': '4a9bb69f4936c1256bad55945a4a079a06b18e377924a9c85bacda15ee2d2057',
    },
    'txt2img_anime': {
        'config.json': 'b33428f53aa80ac0cf87bd413ec0732761ec0b1417e93173eb42789b9d8101cf',
        'model.weights.h5': '4ea89b6059c1940f1b4964e3c929518e5cfadf05069973db8e3abeb0179daab7',
    },
    'txt2img_fashion': {
        'config.json': '4d93b736f139cf2ed3f120c57ba6076c92edf18912b8d00677f51d954513494b',
        'model.weights.h5': '8ebd071a25d649139520f6d84a7fdbe9821fb92723e07c1f6dac89e2114fdbde',
    },
    'vae_fashion': {
        'config.json': '5ab342135cb5d37cb04e11a0a0aa5d154fb1d33b7b77447fad91496e2dcf5b2d',
        'model.weights.h5': 'e2abe62bbf774347ca520abc13cf5f0cef0fbe4fd5326c1cef56fdb641aa187f',
    },
    'vae_mnist': {
        'config.json': 'e29b50c67602641d665f298375110d80e5eca70316a4fba305989a7bdf5976bd',
        'model.weights.h5': 'b789e275c7c0e0923aa163a0736a41adc94561fa9dbb396dde480138047be407',
    },
    'vae_mnist_2d': {
        'config.json': 'c03b8455b31b83cca6b1c7eeed163a3dd508dd998bb045c7956aaf6deb313346',
        'model.weights.h5': '24b70ddca6cfa7fa80def7548b386d2f7d6c9fcb9ec96987ca01c0b8b8a840f2',
    },
    'wgan_gp_anime': {
        'config.json': 'f870ce9d1414b31a3aca90b8be3a2917701ea6c8ca490c11cdfeba0c0428d90c',
        'model.weights.h5': '11a7ef28329cd48d22f72666677015d52b28da9aeac8cc696e4217d40ec83f72',
    },
}
