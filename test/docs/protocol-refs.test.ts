/**
 * Every section sign followed by N or N.M anywhere in the repository names a section that
 * docs/protocol.md has, and no section sign stands without a number. (This file spells the sign
 * as an escape, so that a plain grep for it finds only real references.)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/processes.js';

const SIGN = '\u00a7';

function sectionsOf(markdown: string): Set<string> {
  const sections = new Set<string>();
  for (const match of markdown.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)) sections.add(match[1]!);
  return sections;
}

describe('docs: protocol section references', () => {
  it('1. every section reference in the repository resolves in docs/protocol.md', () => {
    const sections = sectionsOf(fs.readFileSync(path.join(repoRoot, 'docs/protocol.md'), 'utf8'));
    expect(sections.has('4.2')).toBe(true);
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n')
      .filter((file) => file && !file.endsWith('package-lock.json') && fs.existsSync(path.join(repoRoot, file)));
    const dangling: string[] = [];
    let references = 0;
    for (const file of files) {
      const text = fs.readFileSync(path.join(repoRoot, file), 'utf8');
      if (!text.includes(SIGN)) continue;
      text.split('\n').forEach((line, i) => {
        for (const match of line.matchAll(/\u00a7\s*(\d+(?:\.\d+)?)?/g)) {
          references++;
          const section = match[1];
          if (!section) dangling.push(`${file}:${i + 1}: a section sign without a number: ${line.trim()}`);
          else if (!sections.has(section)) dangling.push(`${file}:${i + 1}: ${SIGN}${section} is not a section of docs/protocol.md`);
        }
      });
    }
    expect(references).toBeGreaterThan(100);
    expect(dangling).toEqual([]);
  });
});
