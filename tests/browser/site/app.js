//! The test site's own script: the tq queue stub, a tiny SPA router and command buttons.
window.tq = window.tq || [];
document.addEventListener('click', (ev) => {
  const spa = ev.target.closest('a[data-spa]');
  if (spa) {
    ev.preventDefault();
    history.pushState({}, '', spa.getAttribute('href'));
    document.title = spa.dataset.title;
    return;
  }
  const cmd = ev.target.closest('[data-cmd]');
  if (cmd) window.tq.push(JSON.parse(cmd.dataset.cmd));
});
