/**
 * Regenerates builtin-schemas.json from the installed @kubernetes/client-node:
 *   node test/lab/apiserver/builtin-schemas-gen.ts
 * (test/lab/apiserver-builtin-schemas.test.ts fails, naming this command, when the file is stale.)
 */
import { writeFileSync } from 'node:fs';
import * as client from '@kubernetes/client-node';
import { BUILTIN_SCHEMAS_FILE, generateBuiltinSchemas, serializeBuiltinSchemas } from './builtin-schemas.ts';

writeFileSync(BUILTIN_SCHEMAS_FILE, serializeBuiltinSchemas(generateBuiltinSchemas(client as unknown as Record<string, unknown>)));
