"""zoo demo in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven
by Selenium opens the page served on 127.0.0.1, draws gan_mnist digits and checks the PNG,
continues a prompt with gpt_shakespeare, and shows a bad prompt's one-line error while the
server goes on. Also, without a browser: the controls come from the models' declarations.

Runs once, under TensorFlow (the page does the same on every backend). Without Gradio,
Selenium or Chromium the browser test is skipped with the reason; .ci/run installs them and
says so loudly if it cannot.
"""

import io
import shutil
import socket
import time
import urllib.request

import numpy as np
import pytest

pytestmark = pytest.mark.once_under("tensorflow", "the page and its server do the same on every backend")

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page():
    pytest.importorskip("gradio", reason="zoo[demo] (Gradio) is not installed")
    from zoo import demo

    port = free_port()
    app, url = demo.serve("127.0.0.1", port, block=False, names=["gan_mnist", "gpt_shakespeare", "vae_mnist", "ddpm_mnist"])
    yield url
    app.close()


@pytest.fixture(scope="module")
def browser(page, tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra) is not installed")
    if not (BROWSER and DRIVER):
        pytest.skip("no Chromium here (apt-get install chromium chromium-driver): the browser test cannot run")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.get(page)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout=120):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition(d))


def css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def choose(driver, name):
    from selenium.webdriver.common.by import By

    label = wait_for(driver, lambda d: next(iter(d.find_elements(
        By.XPATH, f"//*[@id='model']//label[contains(., '{name}')]")), None))
    label.click()
    wait_for(driver, lambda d: name in (css(d, "#card")[0].text if css(d, "#card") else ""))


def set_text(driver, selector, value):
    from selenium.webdriver.common.keys import Keys

    box = wait_for(driver, lambda d: next((e for e in css(d, selector) if e.is_displayed()), None))
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(value)
    box.send_keys(Keys.TAB)


def status_after_click(driver, button, previous=""):
    css(driver, button)[0].click()
    return wait_for(driver, lambda d: next((v for v in [css(d, "#status textarea")[0].get_attribute("value")]
                                            if v and v != previous), None))


def test_the_page_draws_digits_continues_text_and_shows_errors(browser, page, tmp_path):
    from PIL import Image

    choose(browser, "gan_mnist")
    set_text(browser, "#seed input", "3")
    set_text(browser, "#num input", "16")
    status = status_after_click(browser, "#generate")
    assert status == "16 image(s) from gan_mnist, seed 3"
    source = wait_for(browser, lambda d: next((e.get_attribute("src") for e in css(d, "#output-image img")
                                              if e.get_attribute("src")), None))
    data = urllib.request.urlopen(source, timeout=30).read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    grid = np.asarray(Image.open(io.BytesIO(data)))
    assert grid.shape[:2] == (2 * (4 * 30 + 2), 2 * (4 * 30 + 2)) and grid.std() > 30  # 4 x 4 digits, scale 2
    browser.save_screenshot(str(tmp_path / "demo_gan_mnist.png"))

    choose(browser, "gpt_shakespeare")
    set_text(browser, "#opt-prompt textarea", "ROMEO:")
    set_text(browser, "#opt-max_new_tokens input", "40")
    set_text(browser, "#num input", "1")
    status = status_after_click(browser, "#generate", status)
    assert status == "1 text(s) from gpt_shakespeare, seed 3"
    text = css(browser, "#output-text textarea")[0].get_attribute("value")
    assert text.startswith("ROMEO:") and len(text) >= len("ROMEO:") + 40

    set_text(browser, "#opt-prompt textarea", "ROMEO: ☃")
    status = status_after_click(browser, "#generate", status)
    assert status.startswith("error: ") and "☃" in status and "\n" not in status
    browser.save_screenshot(str(tmp_path / "demo_error.png"))

    set_text(browser, "#opt-prompt textarea", "JULIET:")  # the server goes on after the error
    status = status_after_click(browser, "#generate", status)
    assert status == "1 text(s) from gpt_shakespeare, seed 3"

    choose(browser, "ddpm_mnist")  # long sampling shows its progress on the page
    set_text(browser, "#opt-steps input", "300")
    set_text(browser, "#num input", "16")
    css(browser, "#generate")[0].click()
    shown = wait_for(browser, lambda d: next((e.text for e in css(d, "#status") if "ddpm_mnist: ddim" in e.text), None))
    assert "%" in shown  # Gradio's bar: the sampler's label and how far it is
    wait_for(browser, lambda d: css(d, "#status textarea")[0].get_attribute("value")
             == "16 image(s) from ddpm_mnist, seed 3")


def test_the_controls_come_from_the_models_declarations():
    from zoo import demo

    options = demo.declared_options(["ddpm_mnist", "stylegan_anime", "cgan_mnist", "gpt_shakespeare"])
    names = {option.name for option in options.values()}
    assert {"sampler", "steps", "eta", "truncation_psi", "labels", "prompt", "temperature", "top_k", "top_p",
            "max_new_tokens"} <= names
    model = demo.model_of("cgan_mnist")
    assert demo.model_of("cgan_mnist") is model  # loaded once
    path, text, download, status = demo._safely(demo.generate)(
        "cgan_mnist", 0, 4, ["7 x" if o.name == "labels" else None for o in options.values()], options, ".")
    assert path is None and status == "error: labels must be class ids separated by spaces, e.g. 7 7 1; got '7 x'"
    path, text, download, status = demo._safely(demo.generate)("gpt_shakespeare", 0, 1.5, [None] * len(options),
                                                                 options, ".")
    assert status == "error: number of texts must be a whole number from 1 to 64; got 1.5"


def test_text_to_image_takes_its_prompts_from_a_box_and_clip_is_not_listed(tmp_path):
    from PIL import Image

    from zoo import demo

    listed = [name for name, _, _ in demo.generative_presets()]
    assert "txt2img_anime" in listed and "clip_anime" not in listed and "features_anime" not in listed
    options = demo.declared_options(["txt2img_anime", "gpt_shakespeare"])
    assert "prompt:prompts" in options and "prompt:text" in options  # two controls: prompts and a text's prompt
    values = [{"prompt:prompts": "red hair\nblue eyes", "steps:int": 3.0}.get(key) for key in options]
    path, _, _, status = demo._safely(demo.generate)("txt2img_anime", 0, 2, values, options, str(tmp_path))
    assert status.startswith("2 image(s) from txt2img_anime") and Image.open(path).size[0] > 32
    values = [{"prompt:prompts": "zebra unicorn"}.get(key) for key in options]
    _, _, _, status = demo._safely(demo.generate)("txt2img_anime", 0, 2, values, options, str(tmp_path))
    assert status.startswith("error: prompt: 2 word(s) of 'zebra unicorn' not in the model's vocabulary")


def test_two_requests_at_once_are_both_answered_and_views_are_drawn(page):
    from gradio_client import Client

    from zoo import demo

    names = [name for name, _, _ in demo.generative_presets(["gan_mnist", "gpt_shakespeare", "vae_mnist",
                                                                 "ddpm_mnist"])]
    options = demo.declared_options(names)  # the page's controls, in its order
    values = [{"steps": 5, "sampler": "ddim"}.get(o.name, demo._shown(o)) for o in options.values()]
    client = Client(page, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = [p["parameter_name"] for p in api["/generate"]["parameters"]]
    assert names == ["model", "seed", "num", *demo.api_names(options)] and "steps" in names  # were param_0 ...
    jobs = [client.submit("ddpm_mnist", seed, 4, *values, api_name="/generate") for seed in (1, 2)]
    statuses = [job.result(timeout=300)[3] for job in jobs]  # queued one after the other, neither lost
    assert statuses == ["4 image(s) from ddpm_mnist, seed 1", "4 image(s) from ddpm_mnist, seed 2"]
    image, _, _, status = client.predict("vae_mnist", "interpolation", 5, *values, api_name="/view")
    assert status == "interpolation of vae_mnist, seed 5"
    with open(image, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    _, _, _, status = client.predict("ddpm_mnist", "denoising, step by step", 0, *values, api_name="/view")
    assert status == "denoising, step by step of ddpm_mnist, seed 0"
    _, _, _, status = client.predict("ddpm_mnist", 0, 4, *[
        2000 if o.name == "steps" else v for o, v in zip(options.values(), values)], api_name="/generate")
    assert status == "error: steps must be in [1, 1000]; got 2000"


def test_zoo_demo_prints_its_url_and_serves_only_127_0_0_1():
    pytest.importorskip("gradio", reason="zoo[demo] (Gradio) is not installed")
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "demo", "--port", str(port), "--backend", "tensorflow"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline, lines = time.time() + 300, []
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "serving on" in line or proc.poll() is not None:
                break
        assert f"zoo demo: serving on http://127.0.0.1:{port}/" in "".join(lines), "".join(lines)
        html = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode()
        assert "zoo demo" in html
        with socket.socket() as s:  # bound to the loopback address only
            address = socket.gethostbyname(socket.gethostname())
            if not address.startswith("127."):
                assert s.connect_ex((address, port)) != 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_request_is_stopped_by_the_stop_button_or_its_time_limit_and_the_next_is_answered(page, monkeypatch):
    """One request (64 texts of a million characters) held the demo for hours, and cancelling
    did not stop it: now Stop, or the page's time limit, ends it at its next step, and the next
    request is answered."""
    from gradio_client import Client
    from gradio_client.utils import Status

    from zoo import demo

    names = [name for name, _, _ in demo.generative_presets(["gan_mnist", "gpt_shakespeare", "vae_mnist",
                                                                 "ddpm_mnist"])]
    options = demo.declared_options(names)
    values = [demo._shown(o) for o in options.values()]
    huge = [1_000_000 if o.name == "max_new_tokens" else v for o, v in zip(options.values(), values)]
    client = Client(page, verbose=False)
    job = client.submit("gpt_shakespeare", 0, 64, *huge, api_name="/generate")
    deadline = time.time() + 120
    while job.status().code != Status.PROCESSING and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # well inside its loop
    assert client.predict(api_name="/stop") == "stopping the running request"
    assert job.result(timeout=120)[3] == "error: stopped (the Stop button)"
    start = time.time()
    assert client.predict("gan_mnist", 3, 4, *values, api_name="/generate")[3] == "4 image(s) from gan_mnist, seed 3"
    assert time.time() - start < 60
    monkeypatch.setattr(demo, "TIME_LIMIT_S", 2)
    status = client.predict("gpt_shakespeare", 0, 64, *huge, api_name="/generate")[3]
    assert status.startswith("error: stopped after 2 s, the most one request may take on this page")
    assert client.predict(api_name="/stop") == "nothing is running"
