/**
 * `npm run keys`: creates the demo key set under KEYS_DIR (default `.data/keys`) unless it exists.
 *
 * @module
 */
import path from 'node:path';
import { loadConfig } from '../config/config.js';
import { ensureDemoKeys } from '../d1/keys.js';

const { keysDir } = loadConfig();
const written = await ensureDemoKeys(keysDir);
process.stderr.write(
  `${written ? 'Created' : 'Kept'} the demo key set in ${path.relative(process.cwd(), keysDir) || keysDir}\n`,
);
