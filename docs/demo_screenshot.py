"""The README's screenshot of zoo demo: KERAS_BACKEND=tensorflow python docs/demo_screenshot.py docs/demo.png
(needs zoo[demo], selenium and Debian's chromium + chromium-driver)."""
import pathlib, sys, time
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from test_demo import choose, set_text, status_after_click, css, wait_for, BROWSER, DRIVER, free_port
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from zoo import demo
port = free_port()
app, url = demo.serve("127.0.0.1", port, block=False)
options = webdriver.ChromeOptions(); options.binary_location = BROWSER
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1250"):
    options.add_argument(flag)
d = webdriver.Chrome(service=Service(DRIVER), options=options)
d.get(url)
choose(d, "stylegan_anime")
set_text(d, "#seed input", "7")
set_text(d, "#num input", "24")
print(status_after_click(d, "#generate"))
wait_for(d, lambda d: next((e for e in css(d, "#output-image img") if e.get_attribute("src")), None))
d.execute_script("window.scrollTo(0, 0)"); time.sleep(1)
d.save_screenshot(sys.argv[1])
d.quit(); app.close()
