"""Networks shared by zoo's models: Transformer blocks (`transformer`) and the diffusion
UNet (`unet`). Model files build their networks from these and from `zoo.layers`."""
