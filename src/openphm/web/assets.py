"""Install the NHS.UK frontend's built CSS, JavaScript and icons where the web service serves
them (`static/nhsuk/`, served at /assets, the path the CSS itself refers to), and libsodium's
JavaScript build (`static/sodium/`, served at /static/sodium), with which a practice's page opens
re-identification tokens on the practice's own machine (static/tokens.mjs).

`make web-assets` runs `npm ci` (nhsuk-frontend and libsodium-wrappers pinned in package.json
and package-lock.json) and then `python -m openphm.web.assets node_modules`. The NHS.UK stylesheet
names the Frutiger web fonts on assets.nhs.uk; those fonts are licensed to NHS sites and are not
in the npm package, so their @font-face rules are removed here and pages fall back to Arial, as
the design system intends when Frutiger is absent. Nothing a page loads comes from the internet.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
TARGET = STATIC / "nhsuk"
STYLESHEET = "nhsuk-frontend.min.css"
SCRIPT = "nhsuk-frontend.min.js"
_FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
_EXTERNAL = re.compile(r"https?://")
SODIUM = STATIC / "sodium"
SODIUM_WRAPPERS = "libsodium-wrappers.mjs"
SODIUM_CORE = "libsodium.mjs"
# The wrappers' ES module imports its core by package name, which a browser cannot resolve
# without an import map: the copy imports the file beside it instead.
_CORE_IMPORT = 'from"libsodium"'


class AssetError(RuntimeError):
    """The npm package is missing or not the shape expected."""


def install(package: Path, target: Path = TARGET) -> list[Path]:
    """Copy the stylesheet (without external fonts), script, images and manifest."""
    dist = Path(package) / "dist" / "nhsuk"
    if not (dist / STYLESHEET).is_file():
        raise AssetError(f"{dist / STYLESHEET} not found: run `npm ci` at the repository root")
    if target.exists():
        shutil.rmtree(target)
    (target / "images").mkdir(parents=True)
    css = _FONT_FACE.sub("", (dist / STYLESHEET).read_text(encoding="utf-8"))
    css = re.sub(r"/\*# sourceMappingURL=[^*]*\*/", "", css)
    if _EXTERNAL.search(css):
        raise AssetError(f"{STYLESHEET} still names an external URL after removing web fonts")
    (target / STYLESHEET).write_text(css, encoding="utf-8")
    script = (dist / SCRIPT).read_text(encoding="utf-8")
    (target / SCRIPT).write_text(re.sub(r"//# sourceMappingURL=\S*", "", script), "utf-8")
    shutil.copyfile(dist / "assets" / "manifest.json", target / "manifest.json")
    for image in (dist / "assets" / "images").iterdir():
        shutil.copyfile(image, target / "images" / image.name)
    return sorted(p for p in target.rglob("*") if p.is_file())


def install_sodium(node_modules: Path, target: Path = SODIUM) -> list[Path]:
    """Copy libsodium's ES modules (the wrappers and the core, which carries its WebAssembly
    inline) and their licence, the wrappers made to import the core from beside them."""
    wrappers = Path(node_modules) / "libsodium-wrappers" / "dist" / "modules-esm" / SODIUM_WRAPPERS
    core = Path(node_modules) / "libsodium" / "dist" / "modules-esm" / SODIUM_CORE
    for needed in (wrappers, core):
        if not needed.is_file():
            raise AssetError(f"{needed} not found: run `npm ci` at the repository root")
    text = wrappers.read_text(encoding="utf-8")
    if text.count(_CORE_IMPORT) != 1:
        raise AssetError(f"{wrappers} does not import libsodium as expected ({_CORE_IMPORT})")
    text = text.replace(_CORE_IMPORT, f'from"./{SODIUM_CORE}"')
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / SODIUM_WRAPPERS).write_text(_no_source_map(text), encoding="utf-8")
    (target / SODIUM_CORE).write_text(_no_source_map(core.read_text("utf-8")), encoding="utf-8")
    shutil.copyfile(core.parents[2] / "LICENSE", target / "LICENSE")
    return sorted(p for p in target.rglob("*") if p.is_file())


def _no_source_map(script: str) -> str:
    return re.sub(r"//# sourceMappingURL=\S*", "", script)


def installed(target: Path = TARGET) -> bool:
    return (target / STYLESHEET).is_file() and (target / SCRIPT).is_file()


class Assets(StaticFiles):
    """The installed NHS.UK frontend files. Starlette answers 500 for every file while the
    folder is missing; this answers 404 saying what to run, and serves the files as soon as
    `make web-assets` has put them there (the check is repeated until it passes)."""

    async def check_config(self) -> None:
        try:
            await super().check_config()
        except RuntimeError:
            raise HTTPException(
                404, "The NHS.UK frontend assets are not installed: run `make web-assets`."
            ) from None


if __name__ == "__main__":
    modules = Path(sys.argv[1] if len(sys.argv) > 1 else "node_modules")
    if modules.name == "nhsuk-frontend":  # the argument before libsodium was added
        modules = modules.parent
    files = install(modules / "nhsuk-frontend")
    print(f"NHS.UK frontend: {len(files)} files installed in {TARGET}")
    files = install_sodium(modules)
    print(f"libsodium: {len(files)} files installed in {SODIUM}")
