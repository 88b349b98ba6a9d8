// asgidev live reload: reloads this page when the server runs new code,
// and swaps stylesheets in place when only CSS changed.
(() => {
  if (window.__asgidevLiveReload) return; // at most one connection per tab
  window.__asgidevLiveReload = true;
  const generation = document.currentScript && document.currentScript.dataset.generation;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/__asgidev__/live-reload";
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

  function connect() {
    const socket = new WebSocket(url);
    socket.onmessage = (event) => {
      delay = 0;
      const message = JSON.parse(event.data);
      if ((message.type === "hello" && message.generation !== generation) || message.type === "reload") {
        location.reload();
      } else if (message.type === "css") {
        swapStylesheets(message.paths);
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
