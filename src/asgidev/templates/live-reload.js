// asgidev live reload: reloads this page when the server runs new code,
// swaps stylesheets in place when only CSS changed, and shows the traceback
// of an exception the page's requests ran into as an overlay.
(() => {
  if (window.__asgidevLiveReload) return; // at most one connection per tab
  window.__asgidevLiveReload = true;
  const generation = document.currentScript && document.currentScript.dataset.generation;
  // The page is named so that the server can send a traceback to the tab whose request failed.
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/__asgidev__/live-reload?page=" +
    encodeURIComponent(location.pathname + location.search);
  // The first reconnection is immediate: after a reload the connection waits in
  // the server's queue until the new worker is ready. Then 100 ms, doubling to 5 s.
  const FIRST_DELAY_MS = 100;
  const MAX_DELAY_MS = 5000;
  let delay = 0;

  function swapStylesheets(paths) {
    const names = paths.map((p) => p.split("/").pop());
    for (const link of document.querySelectorAll('link[rel~="stylesheet"]')) {
      const href = new URL(link.href, location.href);
      const name = href.pathname.split("/").pop();
      if (names.length === 0 || names.includes(name)) {
        href.searchParams.set("asgidev", String(Date.now()));
        link.href = href.href;
      }
    }
  }

  // The overlay lives in a shadow root, so the page's styles and the overlay's never mix.
  // Its markup was rendered and escaped by the server from its templates.
  let overlay = null;

  function hideError() {
    if (overlay) overlay.remove();
    overlay = null;
  }

  function showError(message) {
    hideError();
    overlay = document.createElement("asgidev-overlay");
    overlay.dataset.key = message.key;
    const root = overlay.attachShadow({ mode: "open" });
    root.innerHTML = message.html;
    root.querySelector(".close").addEventListener("click", hideError);
    document.documentElement.appendChild(overlay);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") hideError();
  });

  function connect() {
    const socket = new WebSocket(url);
    socket.onmessage = (event) => {
      delay = 0;
      const message = JSON.parse(event.data);
      if ((message.type === "hello" && message.generation !== generation) || message.type === "reload") {
        location.reload();
      } else if (message.type === "css") {
        swapStylesheets(message.paths);
      } else if (message.type === "error") {
        showError(message);
      } else if (message.type === "error-cleared" && overlay && overlay.dataset.key === message.key) {
        hideError();
      }
    };
    // The server restarts or stops: try again with a growing delay, never a flood.
    socket.onclose = () => {
      setTimeout(connect, delay);
      delay = delay === 0 ? FIRST_DELAY_MS : Math.min(delay * 2, MAX_DELAY_MS);
    };
  }
  connect();
})();
