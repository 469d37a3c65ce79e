"""Sphinx configuration of the course book (``make book``): offline to build, offline to read.

The chapters (book/chapters/, written by book/prepare.py) are executed during the build by
myst-nb (``nb_execution_mode = "cache"``: a rebuild runs only the chapters that changed).
Nothing is fetched from the internet, at build time or when a page is read: MathJax, its
font, require.js and the widget manager come from the npm packages pinned in
book/package-lock.json (``npm ci`` in ``make book``), copied into ``_static/vendor/``; there
is no intersphinx.  Sources: Sphinx (https://www.sphinx-doc.org), myst-nb
(https://myst-nb.readthedocs.io), sphinx-book-theme (https://sphinx-book-theme.readthedocs.io).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import te_course

BOOK = Path(__file__).resolve().parent
NODE = BOOK / "node_modules"

project = "te_course: peer-to-peer and transactive energy markets, hands on"
author = "the te_course authors"
copyright = "the te_course authors"
release = version = te_course.__version__

extensions = ["myst_nb"]
exclude_patterns = ["_build", "node_modules", "prepare.py", "README.md", "**/.ipynb_checkpoints"]
root_doc = "index"

# --- with or without solutions (book/prepare.py --solutions, from make book BOOK_SOLUTIONS=...):
# the index page says which, through Sphinx's `only` directive
_EDITION = BOOK / "chapters" / ".solutions"
if _EDITION.is_file() and _EDITION.read_text().strip() == "all":
    tags.add("solutions")  # noqa: F821  (Sphinx puts `tags` into this file's namespace)

# --- executing the notebooks
nb_execution_mode = "cache"
nb_execution_cache_path = str(BOOK / "_build" / ".jupyter_cache")
nb_execution_raise_on_error = True  # a chapter that fails stops the build, naming the cell
nb_execution_timeout = 600
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_heading_anchors = 3

# --- everything the pages load, from this site
VENDOR = {  # npm file or folder -> under _static/vendor (MathJax's font: the CHTML output only, 2 of 50 MB)
    "mathjax": "mathjax",
    "@mathjax/mathjax-newcm-font/chtml.js": "mathjax-newcm-font/chtml.js",
    "@mathjax/mathjax-newcm-font/chtml": "mathjax-newcm-font/chtml",
    "@jupyter-widgets/html-manager/dist": "html-manager",
    "requirejs/require.js": "require.js",
}
mathjax_path = "vendor/mathjax/tex-mml-chtml.js"
mathjax4_config = {
    "loader": {"paths": {"mathjax-newcm": "[mathjax]/../mathjax-newcm-font"}},
    "tex": {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]]},
}
nb_ipywidgets_js = {  # in this order: require.js, where the manager's own files are, the manager
    "vendor/require.js": {},
    "te_course_widgets.js": {},
    # the ipywidgets modules are inside embed-amd.js; a third-party module would be looked for beside the page
    "vendor/html-manager/embed-amd.js": {"data-jupyter-widgets-cdn": "vendor/", "crossorigin": "anonymous"},
}

# --- the look
html_theme = "sphinx_book_theme"
html_title = "te_course: P2P and transactive energy markets"
html_static_path = ["_static"]
html_js_files = ["te_course_book.js"]
html_css_files = ["te_course_book.css"]
html_theme_options = {
    "repository_url": "https://github.com/OWNER/REPO",  # the placeholder of the README's Binder badge
    "use_repository_button": False,
    "use_download_button": False,  # its source download needs the page sources; each page offers the student notebook
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "extra_footer": (  # the two licences of LICENSE-CONTENT.md, on every page
        f"<p>Built from te_course {te_course.__version__}. Text, equations and figures: "
        '<a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>; code, the notebooks\' code cells '
        'included: <a href="https://opensource.org/license/bsd-3-clause">BSD-3-Clause</a> (the repository\'s '
        "LICENSE-CONTENT.md and LICENSE).</p>"
    ),
}
html_context = {"default_mode": "light"}  # figures have white backgrounds; unset, the theme logs an error per page
html_last_updated_fmt = None
html_copy_source = False  # the page sources would repeat the chapters; nothing hidden is in them anyway


def _copy_vendor(app, exception) -> None:
    """Copy the pinned npm files the pages load into _static/vendor (after a successful build)."""
    if exception is not None or app.builder.format != "html":
        return
    missing = [name for name in VENDOR if not (NODE / name).exists()]
    if missing:
        raise RuntimeError(f"book/node_modules lacks {', '.join(missing)}: run `npm ci` in book/ (make book does)")
    out = Path(app.outdir) / "_static" / "vendor"
    for name, dest in VENDOR.items():
        src, target = NODE / name, out / dest
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def setup(app) -> None:
    """Copy the npm files into the site once it is built."""
    app.connect("build-finished", _copy_vendor)
