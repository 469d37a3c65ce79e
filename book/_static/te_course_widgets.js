// Loaded between require.js and the widget manager (conf.py, nb_ipywidgets_js).
//
// The widget manager (@jupyter-widgets/html-manager) finds its own files, the icon fonts, next
// to the URL that require.js gives its module; without a path, that is a folder beside the page,
// which does not exist. Point the module at the site's copy in _static/vendor/html-manager.
(function () {
  const me = document.currentScript.src;
  const vendor = me.slice(0, me.lastIndexOf("/") + 1) + "vendor/html-manager";
  window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": vendor } });
})();
