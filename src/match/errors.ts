import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';

/** Repository's bundled filters; from dist/src/match/ or src/match/ alike. */
export const builtinFilterDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', ...(import.meta.url.includes('/dist/') ? ['..'] : []), 'config', 'filter.d');

/** A filter uses a construct RE2 cannot run (lookaround, backreference, conditional ...). */
export class FilterRefused extends UserError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly construct: string,
    reason: string,
    readonly filterName: string,
    builtinDir: string = builtinFilterDir,
  ) {
    const own = path.join(builtinDir, `${filterName}.conf`);
    const isOwn = path.resolve(file) === path.resolve(own);
    const hint = !isOwn && existsSync(own) ? `; use logban's built-in filter ${filterName} (${own})` : '';
    super(`${file}:${line}: filter ${filterName}: cannot run ${JSON.stringify(construct)} (${reason})${hint}`);
  }
}

/** A filter whose regex is broken or unusable (no address group, bad syntax). */
export class FilterInvalid extends UserError {}
