/**
 * The entry point of `jupyter_token_broker/hub/static/admin.js`: finds the template's container and
 * starts the page. Configuration comes from its data attributes (no inline script).
 */
import './admin.css';
import { AdminApi } from './api';
import { AdminPage } from './page';

const root = document.getElementById('token-broker-admin');
if (root) {
  document.getElementById('token-broker-admin-loading')?.remove();
  const api = new AdminApi(root.dataset.apiUrl ?? '', root.dataset.xsrfToken ?? '');
  void new AdminPage(root, api).load();
}
