#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader, so `npx shopsim` works
// right after `npm ci` with no build step (see docs/cli.md).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
