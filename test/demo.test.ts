/**
 * The main job (`npm start`) in the test suite: a small storm with a fixed seed must verify clean,
 * and its HTML report must render in Chromium with the device tree and the timeline in it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { storm, type StormResult } from '../demo/storm.js';
import { launch, skipBrowser } from './support/browser.js';

const dir = mkdtempSync(join(tmpdir(), 'revocable-storm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let output = '';
const out = Object.assign(
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  }),
  { isTTY: false },
) as unknown as NodeJS.WriteStream;

let result: StormResult | undefined;
const run = async (): Promise<StormResult> =>
  // A count of operations, not a time: the same work however fast the machine is (the duration is
// only a cap that a healthy run never reaches).
  (result ??= await storm({ devices: 3, consumers: 6, duration: 120, operations: 600, seed: 42, report: join(dir, 'storm.html'), quiet: false, out }));

describe('the hot-plug storm (npm start)', () => {
  it('verifies clean with a small configuration and a fixed seed', async () => {
    const { ok, completed, plugs, unplugs, leaked, violations, stats, drains } = await run();
    assert.ok(ok, output);
    assert.ok(completed > 0, 'operations completed');
    assert.ok(completed + Object.values(result?.refused ?? {}).reduce((a, b) => a + b, 0) >= 600, 'it ran the operations it was asked for');
    assert.ok(plugs > 3, 'devices were replugged');
    assert.ok(unplugs.remove + unplugs.kill > 0, 'devices were unplugged');
    assert.ok(drains.length >= unplugs.remove + unplugs.kill, 'every unplug drained');
    assert.equal(leaked, 0);
    assert.deepEqual(violations, { useAfterRelease: [], callbackAfterRemove: [], doubleRelease: [] });
    assert.equal(stats.opens, stats.releases, 'every open file released exactly once');
    assert.match(output, /verified: every invariant held/);
    assert.match(output, /objects leaked +0/);
    assert.match(output, /uses after release +0/);
    assert.match(output, /drain time p50 \/ p99 \/ max +[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms/);
    assert.ok(!output.includes('\u001b['), 'plain lines when the output is not a terminal: no cursor movement');
  });

  it('writes a self-contained HTML report with the tree and the timeline', async () => {
    const { reportPath } = await run();
    assert.ok(reportPath);
    const html = readFileSync(reportPath, 'utf8');
    assert.match(html, /<svg id="tree"/);
    assert.match(html, /<svg id="timeline"/);
    assert.doesNotMatch(html, /<script|src="http|href="http/, 'self-contained: no script, nothing fetched');
  });

  it('explains itself: every figure of the summary says what it means, and the refusals are spelled out by code', async () => {
    const { summary, refused } = await run();
    for (const row of summary) assert.ok(row.means.length > 10, `"${row.label}" says what it means`);
    for (const code of Object.keys(refused)) assert.match(output, new RegExp(`\\d+ ${code} +\\S`), `the refusal ${code} is explained`);
    assert.match(output, /what happened \(it varies from run to run\)/);
    assert.match(output, /what must never happen/);
    assert.match(output, /what each line means: docs\/demo\.md/);
  });

  it('links every figure of the report to the section of docs/demo.md that explains it', async () => {
    const { reportPath, summary } = await run();
    assert.ok(reportPath);
    const html = readFileSync(reportPath, 'utf8');
    const guide = readFileSync('docs/demo.md', 'utf8');
    const slugs = new Set([...guide.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] as string).toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    const links = [...html.matchAll(/<a href="([^"#]+)#([^"]+)">/g)];
    assert.ok(links.length >= summary.length, 'a link per figure');
    for (const [, path, anchor] of links) {
      assert.equal(resolve(dirname(reportPath), path as string), resolve('docs/demo.md'), 'the link reaches docs/demo.md from where the report is');
      assert.ok(slugs.has(anchor as string), `docs/demo.md has a section #${anchor}`);
    }
  });

  it('prints the summary the docs show: the same figures in the same order as the sample output', async () => {
    await run();
    const labels = (text: string): string[] => [...text.matchAll(/^ {2}([a-z][a-z ()/,.]+?) {2,}\S/gm)].map((m) => m[1] as string);
    const printed = labels(output.slice(output.indexOf('what happened')));
    for (const file of ['docs/demo.md', 'README.md']) {
      const text = readFileSync(file, 'utf8');
      const marker = text.indexOf('<!-- sample output of a default npm start');
      if (file === 'docs/demo.md') assert.ok(marker >= 0, `${file} has the sample output`);
      if (marker < 0) continue;
      const block = /```text\n([\s\S]*?)```/.exec(text.slice(marker));
      assert.ok(block, `${file}: a text block follows the marker`);
      assert.deepEqual(labels(block[1] as string), printed, `${file}: the sample output has the figures of a run`);
    }
  });

  it('renders the report in Chromium: tree and timeline present, the screenshot not blank', { skip: skipBrowser() }, async () => {
    const { reportPath } = await run();
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      await page.goto(`file://${reportPath}`);
      assert.equal(await page.locator('#verdict').textContent(), 'verified: every invariant held');
      assert.ok((await page.locator('#timeline rect.bound').count()) > 0, 'bound intervals drawn');
      assert.ok((await page.locator('#tree rect.node').count()) >= 2, 'tree nodes drawn');
      const box = await page.locator('#timeline').boundingBox();
      assert.ok(box !== null && box.width > 500 && box.height > 50, 'the timeline has a size on screen');
      const shot = await page.screenshot({ fullPage: true });
      // Let the browser decode its own screenshot and count the pixels that are not background.
      const inked = await page.evaluate(async (data) => {
        const image = new Image();
        image.src = `data:image/png;base64,${data}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext('2d') as CanvasRenderingContext2D;
        context.drawImage(image, 0, 0);
        const pixels = context.getImageData(0, 0, image.width, image.height).data;
        let count = 0;
        for (let i = 0; i < pixels.length; i += 4) if ((pixels[i] as number) < 235 || (pixels[i + 1] as number) < 235 || (pixels[i + 2] as number) < 235) count++;
        return count / (pixels.length / 4);
      }, shot.toString('base64'));
      assert.ok(inked > 0.03, `the screenshot has content (${(inked * 100).toFixed(1)}% of pixels inked)`);
    } finally {
      await browser.close();
    }
  });
});
