/**
 * The jupyter-token-broker JupyterLab extension: its plugins, and the public API for other plugins.
 */
import { brokerPlugin } from './brokerPlugin';
import { panelPlugin } from './panelPlugin';
import { statusPlugin } from './statusPlugin';

export * from './tokens';
export { ConsentError, SignInError, TokenBrokerError, TokenBrokerRequestError } from './errors';
export type { ConsentErrorCode, SignInErrorCode } from './errors';

export default [brokerPlugin, panelPlugin, statusPlugin];
