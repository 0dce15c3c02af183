"""The demo's report.html in a real browser: Debian's headless Chromium (installed by
infra/test.sh) opens the page from disk with the network shut (every host name resolves to
nothing, every connection goes to a closed port) and fonts pinned to DejaVu. The page must
render: the screenshot is not blank, the DOM after load has one row per feature, the inline
script ran under the page's content-security policy, and nothing was refused or requested.
"""

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

TIMEOUT = 120


def modelmon_bin():
    path = os.environ.get("MODELMON_BIN", str(Path.home() / ".cache/modelmon/target/debug/modelmon"))
    if not Path(path).is_file():
        pytest.fail(f"modelmon binary not found at {path}: build it and set MODELMON_BIN")
    return path


def chromium_bin():
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium not found: infra/test.sh installs Debian's chromium (or set CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's report folder, from the path the demo prints first."""
    root = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [modelmon_bin(), "demo", "--output", "demo"], cwd=root, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("Open ") and first.endswith("/report.html to see the report."), first
    page = root / first.removeprefix("Open ").removesuffix(" to see the report.")
    assert page.is_file()
    return page


def chromium(tmp_path, *args):
    """Headless Chromium on a fresh profile with no network; returns the finished process."""
    fonts = tmp_path / "fonts.conf"
    fonts.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        "<dir>/usr/share/fonts/truetype/dejavu</dir>"
        f"<cachedir>{tmp_path / 'fontcache'}</cachedir></fontconfig>"
    )
    command = [
        chromium_bin(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        # The network, shut: no name resolves, and every connection would go to a closed port.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,1400",
        "--virtual-time-budget=10000",
        *args,
    ]
    env = dict(os.environ, FONTCONFIG_FILE=str(fonts))
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


class Rows(HTMLParser):
    """Counts the feature table's rows, and notes whether the controls are shown."""

    def __init__(self):
        super().__init__()
        self.rows = 0
        self.controls_hidden = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and (attrs.get("id") or "").startswith("r-"):
            self.rows += 1
        if attrs.get("id") == "ctl":
            self.controls_hidden = "hidden" in attrs


def refusals(stderr):
    """Console lines of a blocked resource or script, or of a request that went out."""
    words = ("Refused to", "Content Security Policy", "net::ERR_")
    return [line for line in stderr.splitlines() if any(word in line for word in words)]


def test_the_demo_page_renders_in_chromium_with_the_network_off(demo, tmp_path):
    features = json.loads((demo.parent / "report.json").read_text())["checks"]["features"]

    dom = chromium(tmp_path, "--dump-dom", demo.as_uri())
    rows = Rows()
    rows.feed(dom.stdout)
    assert rows.rows == len(features) > 0, dom.stdout[:2000]
    # The inline script ran (its hash is in the policy): it shows the sorting controls.
    assert rows.controls_hidden is False, "the page's script did not run"
    assert refusals(dom.stderr) == []

    screenshot = tmp_path / "report.png"
    shot = chromium(tmp_path, f"--screenshot={screenshot}", demo.as_uri())
    assert refusals(shot.stderr) == []
    with Image.open(screenshot) as image:
        assert image.size == (1280, 1400)
        pixels = list(image.convert("RGB").get_flattened_data())
    not_white = sum(1 for p in pixels if p != (255, 255, 255))
    assert not_white > 0.03 * len(pixels), f"only {not_white} of {len(pixels)} pixels are not white"
    # The verdict in the palette's vermillion, and the baseline's sky blue, are drawn.
    colours = set(pixels)
    assert len(colours) > 50, f"{len(colours)} colours"
    near = lambda p, q: all(abs(a - b) <= 40 for a, b in zip(p, q))  # noqa: E731
    assert any(near(p, (0xD5, 0x5E, 0x00)) for p in colours), "no vermillion (violations) on the page"
    assert any(near(p, (0x56, 0xB4, 0xE9)) or near(p, (0x9A, 0xD2, 0xF2)) for p in colours), "no baseline blue"
    if os.environ.get("MODELMON_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["MODELMON_SCREENSHOT"])
