// oidc-provider warns about its development defaults (memory adapter, generated keys, Node 20);
// those are expected in tests and only drown the output.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider WARNING')) return;
  warn(...args);
};
