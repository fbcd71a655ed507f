import { MemoryStore } from '../../src/stores/memory.js';
import { runTokenStoreContract } from './contract.js';

runTokenStoreContract('MemoryStore', async () => new MemoryStore());
