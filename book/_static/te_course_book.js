// The course book's own script (conf.py, html_js_files).
//
// ipywidgets 8 typesets the labels of its controls with MathJax 2's `MathJax.Hub.Queue`, which
// MathJax 4 (the one this site serves) does not have: without this shim every page with a
// widget logs "MathJax.Hub is undefined". It queues the request on MathJax 4's typesetting.
(function () {
  function shim() {
    if (!window.MathJax || window.MathJax.Hub) return;
    window.MathJax.Hub = {
      Queue: function () {
        for (const job of arguments) {
          if (Array.isArray(job) && job[0] === "Typeset" && window.MathJax.typesetPromise) {
            const el = job[2];
            const ready = window.MathJax.startup && window.MathJax.startup.promise;
            (ready || Promise.resolve()).then(() => window.MathJax.typesetPromise(el ? [el] : undefined));
          }
        }
      },
    };
  }
  shim();
  // MathJax replaces its configuration object by itself when it loads: shim that one too.
  document.addEventListener("DOMContentLoaded", shim);
  window.addEventListener("load", shim);
  const timer = setInterval(function () {
    if (window.MathJax && window.MathJax.startup) { shim(); clearInterval(timer); }
  }, 20);
  setTimeout(function () { clearInterval(timer); }, 20000);
})();
