/**
 * A visitor through JupyterHub sharing is told apart from the owner by the page config alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ownerOnlyText, sharedVisit } from '../src/sharedVisit';

describe('sharedVisit', () => {
  it('is a visit when the hub user is not the server user', () => {
    const visit = sharedVisit({ hubUser: 'bob', hubServerUser: 'alice', hubServerName: '' });
    assert.deepEqual(visit, { visitor: 'bob', owner: 'alice' });
    assert.match(ownerOnlyText(visit!), /belongs to alice.*visiting as bob/);
  });

  it('is no visit on the owner’s own server or outside JupyterHub', () => {
    assert.equal(sharedVisit({ hubUser: 'alice', hubServerUser: 'alice' }), null);
    assert.equal(sharedVisit({}), null);
    assert.equal(sharedVisit({ hubUser: '', hubServerUser: 'alice' }), null);
    assert.equal(sharedVisit({ hubUser: 'bob', hubServerUser: 42 }), null);
  });
});
