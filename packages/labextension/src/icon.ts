/**
 * The Token Broker icon: a key, drawn in the theme's icon colour.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const KEY_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path fill-rule="evenodd" d="M14.5 2a7.5 7.5 0 0 0-7.14 9.8L2 17.17V22h4.83v-2.5h2.5V17h2.5l1.37-1.37A7.5 7.5 0 1 0 14.5 2Zm2 3.5a2 2 0 1 1 0 4 2 2 0 0 1 0-4Z"/>
  </g>
</svg>`;

/**
 * The key icon of the Token Broker panel and commands.
 */
export const keyIcon = new LabIcon({ name: 'jupyter-token-broker:key', svgstr: KEY_SVG });
