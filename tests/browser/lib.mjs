// lib.mjs - helpers of the browser tests: start the real ambient binary on
// 127.0.0.1:0 in a temp dir, launch Debian's chromium headless through
// playwright-core, record console errors and failed requests, screenshots.
//
// Environment: AMBIENT (the binary), AMBIENT_NPM_MODULES (node_modules with
// playwright-core), CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR
// (write screenshots there when set), KEEP_WORK=1 (keep the temp dir).
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const AMBIENT = process.env.AMBIENT;
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MODULES = process.env.AMBIENT_NPM_MODULES;

export function fail(msg) {
	console.error('FAIL: ' + msg);
	process.exitCode = 1;
	throw new Error(msg);
}

let passed = 0;
export function ok(name) {
	passed++;
	console.log('ok ' + passed + ' - ' + name);
}

export async function loadPlaywright() {
	if (!AMBIENT || !fs.existsSync(AMBIENT)) fail('AMBIENT must name the ambient binary');
	const entry = path.join(MODULES || '', 'playwright-core', 'index.mjs');
	if (!MODULES || !fs.existsSync(entry))
		fail(`playwright-core is not installed in ${MODULES} (run 'make deps': npm ci in tools/npm)`);
	if (!fs.existsSync(CHROMIUM))
		fail(`${CHROMIUM} is missing: install Debian's chromium ('make deps' does) or set CHROMIUM`);
	return import(entry);
}

export async function launch() {
	const {chromium} = await loadPlaywright();
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		// Root in CI containers: chromium refuses to start sandboxed as root.
		args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
	});
}

export function workDir(name) {
	const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'ambient-' + name + '-'));
	process.on('exit', () => {
		if (process.env.KEEP_WORK === '1') console.error('kept ' + dir);
		else fs.rmSync(dir, {recursive: true, force: true});
	});
	return dir;
}

const started = [];
// Stop every process this test started, by its pid.
export async function stopAll() {
	await Promise.all(started.splice(0).map((p) => p.stop()));
}
process.on('exit', () => {
	for (const p of started) p.proc.kill('SIGKILL');
});

// Start `ambient ARGS...` and wait (deadline 20 s) for its first stdout line
// "listening URL"; resolves {proc, url (origin only), stop()}.
export function startAmbient(args, logName, dir) {
	return new Promise((resolve, reject) => {
		const err = fs.openSync(path.join(dir, logName + '.err'), 'w');
		// Nothing of the caller's configuration: no real credentials, no
		// notify targets, no other store.
		const env = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
			!/^(AMBIENT_|TWILIO_|OPENAI_|SMTP_|EVENT_FEEDBACK_URL)/.test(k)));
		const proc = spawn(AMBIENT, args, {stdio: ['ignore', 'pipe', err],
			env: Object.assign(env, {XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir})});
		let out = '';
		const timer = setTimeout(() => {
			proc.kill('SIGKILL');
			reject(new Error(`ambient ${args.join(' ')} did not print 'listening' within 20 s: ` +
				fs.readFileSync(path.join(dir, logName + '.err'), 'utf8')));
		}, 20000);
		const exited = new Promise((r) => proc.on('exit', (code, sig) => r({code, sig})));
		const entry = {
			proc,
			async stop() {
				if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
				const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
				await exited;
				clearTimeout(t);
			},
		};
		proc.stdout.setEncoding('utf8');
		proc.stdout.on('data', (d) => {
			out += d;
			const m = /^listening (https?:\/\/[^/\s]+)/m.exec(out);
			if (m && !entry.url) {
				clearTimeout(timer);
				entry.url = m[1];
				started.push(entry);
				resolve(entry);
			}
		});
		proc.on('exit', (code) => {
			if (!entry.url) {
				clearTimeout(timer);
				reject(new Error(`ambient ${args.join(' ')} exited with ${code}: ` +
					fs.readFileSync(path.join(dir, logName + '.err'), 'utf8')));
			}
		});
	});
}

// Record what must not happen on a page: console errors, uncaught
// exceptions, failed requests, HTTP errors.  allow(kind, text, url) returns
// true for the ones a step expects.  check() fails the test on the others.
export function watch(page, allow) {
	const problems = [];
	let closing = false;
	const note = (kind, text, url) => {
		if (closing || (allow && allow(kind, text || '', url || ''))) return;
		problems.push(`${kind}: ${text} ${url || ''}`.trim());
	};
	page.on('console', (m) => {
		if (m.type() === 'error') note('console', m.text(), m.location().url);
	});
	page.on('pageerror', (e) => note('pageerror', e.message, ''));
	page.on('requestfailed', (r) => note('requestfailed', r.failure() && r.failure().errorText, r.url()));
	page.on('response', (r) => {
		if (r.status() >= 400) note('http ' + r.status(), r.request().method(), r.url());
	});
	return {
		problems,
		stopWatching() {
			closing = true;
		},
		check(name) {
			if (problems.length) fail(name + ':\n  ' + problems.join('\n  '));
			ok(name);
		},
	};
}

export async function screenshot(page, name) {
	const dir = process.env.SCREENSHOT_DIR;
	if (!dir) return;
	fs.mkdirSync(dir, {recursive: true});
	await page.screenshot({path: path.join(dir, name + '.png'), fullPage: true});
	console.log('screenshot ' + path.join(dir, name + '.png'));
}

// Run main(), report, stop processes; exit non-zero on any failure.
export async function run(main) {
	try {
		await main();
		console.log(`passed: ${passed}`);
	} catch (e) {
		if (!process.exitCode) console.error('FAIL: ' + (e && e.stack ? e.stack : e));
		process.exitCode = 1;
	} finally {
		await stopAll();
	}
}
