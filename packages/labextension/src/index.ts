/**
 * The jupyter-token-broker JupyterLab extension: its plugins, and the public API for other plugins.
 */
import { brokerPlugin } from './brokerPlugin';
import { panelPlugin } from './panelPlugin';

export * from './tokens';
export { SignInError, TokenBrokerError, TokenBrokerRequestError } from './errors';
export type { SignInErrorCode } from './errors';

export default [brokerPlugin, panelPlugin];
