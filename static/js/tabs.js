// Open the Bootstrap tab named in the address (#timeline, #complaints), e.g. after saving.
document.addEventListener("DOMContentLoaded", () => {
  const hash = window.location.hash;
  if (!hash || !window.bootstrap) return;
  const trigger = document.querySelector(`[data-bs-toggle="tab"][data-bs-target="${CSS.escape(hash)}"]`);
  if (trigger) window.bootstrap.Tab.getOrCreateInstance(trigger).show();
});
