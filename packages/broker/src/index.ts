/**
 * The broker as a library: build the app from a config and listen, as the CLI does.
 */
export { createApp } from './app.js';
export { createContext, type BrokerContext, type ContextSeams } from './context.js';
export {
  ConfigError,
  defaults,
  loadConfig,
  loadKey,
  validateConfig,
  type BrokerConfig,
  type ProviderConfig
} from './config.js';
export { BrokerError, toErrorBody, type ErrorCode } from './errors.js';
export { createLogger, type Logger } from './log.js';
export { listen, type ListenTarget, type RunningServer } from './server.js';
export { MemoryStore, createStore, type Grant, type TokenStore } from './stores/index.js';
export { shouldRefresh } from './accessToken.js';
export { VERSION } from './version.js';
