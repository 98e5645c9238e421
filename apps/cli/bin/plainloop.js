#!/usr/bin/env node
// The `plainloop` command. Workspace packages point at their TypeScript source, so the command loads
// it through tsx: nothing needs building between `npm ci` and a working `npx plainloop`.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
