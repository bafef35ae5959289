// feedback.test.mjs - the dashboard of `ambient feedback` in headless
// Chromium: the page loads without console errors or failed requests; the
// stored events are listed newest first; an event POSTed with curl appears
// live; the filters (min priority, task, event type) work; clicking an event
// shows its data and its notification outcome (or "not available" on a
// server without /notifications).
//
// The page must be what `ambient feedback` answers to GET / with Accept:
// text/html (web_api_page(res, "feedback.html") in cmd_feedback.c) with its
// /assets/*.  Run by tests/browser/run.sh (CTest browser.feedback).  Every
// wait has a deadline; no fixed sleeps.
import {execFile} from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import {promisify} from 'node:util';
import {launch, ok, fail, run, screenshot, startAmbient, stopAll, watch, workDir} from './lib.mjs';

const T = 15000;
const exec = promisify(execFile);

// AMBIENT_BROWSER_FEEDBACK_PROXY=1: until `ambient feedback` serves the page
// itself, put it (from `ambient serve`'s /assets/) in front of the feedback
// server.  Returns the proxy's origin.
async function pageProxy(dir, target) {
	const serve = await startAmbient(['--data-dir', dir, 'serve', '--listen', '127.0.0.1:0', '--no-engine',
		'--no-delivery'], 'serve', dir);
	const t = new URL(target);
	const server = http.createServer((req, res) => {
		const assets = req.url === '/' || req.url.startsWith('/assets/');
		const url = assets ? new URL(req.url === '/' ? '/assets/feedback.html' : req.url, serve.url) : t;
		const up = http.request({host: url.hostname, port: url.port, method: req.method,
			path: assets ? url.pathname : req.url, headers: Object.assign({}, req.headers, {host: url.host})},
		(r) => {
			res.writeHead(r.statusCode, r.headers);
			r.pipe(res);
		});
		up.on('error', () => res.destroy());
		req.pipe(up);
	});
	await new Promise((r) => server.listen(0, '127.0.0.1', r));
	server.unref();
	return 'http://127.0.0.1:' + server.address().port;
}

await run(async () => {
	const dir = workDir('browser-feedback');
	const fb = await startAmbient(['--data-dir', dir, 'feedback', '--listen', '127.0.0.1:0',
		'--pid-file', path.join(dir, 'feedback.pid')], 'feedback', dir);
	let base = fb.url;

	const home = await fetch(base + '/', {headers: {Accept: 'text/html'}});
	const html = await home.text();
	if (!html.includes('/assets/feedback.js')) {
		if (process.env.AMBIENT_BROWSER_FEEDBACK_PROXY !== '1')
			fail('GET / (Accept: text/html) of `ambient feedback` is not the dashboard: cmd_feedback.c must ' +
				'answer with web_api_page(res, "feedback.html") and route GET /assets/* to web_api_route_asset');
		// Development only: serve the page from `ambient serve`'s assets in
		// front of the feedback server, on one origin.
		base = await pageProxy(dir, fb.url);
	}

	const post = async (ev) => {
		const r = await fetch(base + '/process_background_feedback', {method: 'POST',
			headers: {'Content-Type': 'application/json'}, body: JSON.stringify(ev)});
		if (r.status !== 200) fail('POST /process_background_feedback: ' + r.status + ' ' + await r.text());
		return (await r.json()).seq;
	};
	await post({task_id: 'task-news', event_type: 'web_content_change', priority: 3,
		description: 'TechCrunch AI news', data: {url: 'https://techcrunch.com', keywords_found: ['AI']}});
	await post({task_id: 'task-standup', event_type: 'scheduled_trigger', priority: 2,
		description: 'Stand-up reminder', data: {message: 'Time for the stand-up'}});
	const btc = await post({task_id: 'task-btc', event_type: 'threshold_breach', priority: 4,
		description: 'Bitcoin above 100k', data: {metric: 'bitcoin_price', current_value: 100250.5, threshold: 100000},
		notification: {method: 'send_sms', phone_number: '+15550100'}});

	const browser = await launch();
	const page = await browser.newPage({viewport: {width: 1400, height: 900}});
	// An older server has no /notifications: the page copes (404 expected
	// then).  Changing the filters closes the live stream on purpose.
	const w = watch(page, (kind, text, url) =>
		(/\/notifications(\?|$)/.test(url) && (kind === 'http 404' || kind === 'console')) ||
		(kind === 'requestfailed' && text === 'net::ERR_ABORTED' && /\/events\/stream\?/.test(url)));
	await page.goto(base + '/', {waitUntil: 'load'});
	const rows = page.locator('#events tbody tr');
	await page.locator('#live.on').waitFor({timeout: T});
	await page.waitForFunction(() => document.querySelectorAll('#events tbody tr').length === 3, null, {timeout: T});
	const firstType = await rows.first().locator('code').textContent();
	if (firstType !== 'threshold_breach') fail('the newest event is not on top: ' + firstType);
	await page.locator('#c-stored', {hasText: '3'}).waitFor({timeout: T});
	ok('the page loads, lists the stored events newest first, shows the counters');

	// Live: an event POSTed with curl appears at the top without a reload.
	const body = JSON.stringify({task_id: 'task-news', event_type: 'web_content_change', priority: 5,
		description: 'Breaking: GPT-6', data: {url: 'https://techcrunch.com/gpt6', keywords_found: ['GPT-6']},
		notification: {method: 'send_email', email: 'me@example.com'}});
	const {stdout} = await exec('curl', ['-sS', '--fail', '-H', 'Content-Type: application/json',
		'--data-binary', body, base + '/process_background_feedback']);
	const seq = JSON.parse(stdout).seq;
	await page.locator(`#events tbody tr[data-seq="${seq}"]`).waitFor({timeout: T});
	if (await rows.first().getAttribute('data-seq') !== String(seq)) fail('the live event is not on top');
	await page.waitForFunction(() => document.querySelectorAll('#events tbody tr').length === 4, null, {timeout: T});
	ok('an event POSTed with curl appears live at the top');
	const notifications = (await fetch(base + '/notifications')).status === 200;
	if (notifications) {
		// Its notification outcome arrives live too (SSE event: notification),
		// before anything asks /notifications about it.
		await page.locator(`#events tbody tr[data-seq="${seq}"] td.outcomes .badge`, {hasText: /email/})
			.waitFor({timeout: T});
		ok('its notification outcome appears live in its row');
	}

	// Click: its data and notification outcome.
	await page.locator(`#events tbody tr[data-seq="${seq}"]`).click();
	await page.locator('#detail-data', {hasText: 'GPT-6'}).waitFor({timeout: T});
	await page.locator('#detail-notifications p, #detail-notifications .outcome').first().waitFor({timeout: T});
	const outcome = await page.locator('#detail-notifications').textContent();
	if (!/not available|No notification recorded|sent|failed|skipped|suppressed/.test(outcome))
		fail('the notification section says ' + outcome);
	ok('clicking an event shows its data and notification outcome (' + outcome.trim().slice(0, 60) + ')');

	// The bitcoin event asked for an SMS; without Twilio credentials the
	// notifier records it as skipped, with the reason (a server with
	// notifications: GET /notifications answers).
	if (notifications) {
		await page.locator('#detail-notifications .outcome', {hasText: 'email'}).waitFor({timeout: T});
		const btcRow = page.locator(`#events tbody tr[data-seq="${btc}"]`);
		await btcRow.locator('td.outcomes .badge', {hasText: /sms/}).waitFor({timeout: T});
		await btcRow.click();
		await page.locator('#detail-notifications .outcome', {hasText: 'Twilio'}).waitFor({timeout: T});
		ok('notification outcomes show live in the rows and, with the reason, in the detail');
	} else {
		await page.locator('#detail-notifications', {hasText: 'not available'}).waitFor({timeout: T});
		ok('a server without /notifications: the page says notifications are not available');
	}
	await screenshot(page, 'feedback-dashboard');

	// Filters.
	await page.selectOption('#f-priority', '4');
	await page.waitForFunction(() => document.querySelectorAll('#events tbody tr').length === 2, null, {timeout: T});
	const prios = await page.locator('#events tbody tr td:nth-child(5)').allTextContents();
	if (prios.some((p) => Number(p) < 4)) fail('min priority 4 shows ' + prios.join(','));
	// A live event below the filter does not appear; one above it does.
	await post({task_id: 'task-standup', event_type: 'scheduled_trigger', priority: 1, data: {}});
	const high = await post({task_id: 'task-btc', event_type: 'threshold_breach', priority: 4,
		description: 'Bitcoin above 110k', data: {current_value: 110000}});
	await page.locator(`#events tbody tr[data-seq="${high}"]`).waitFor({timeout: T});
	if (await rows.count() !== 3) fail('with min priority 4 the list has ' + await rows.count() + ' rows');
	ok('the min priority filter applies to the list and to live events');

	await page.selectOption('#f-priority', '');
	await page.fill('#f-task', 'task-news');
	await page.click('#filters button[type=submit]');
	await page.waitForFunction(() => document.querySelectorAll('#events tbody tr').length === 2, null, {timeout: T});
	const tasks = await page.locator('#events tbody tr td:nth-child(3)').allTextContents();
	if (tasks.some((t) => t !== 'task-news')) fail('the task filter shows ' + tasks.join(','));
	await page.fill('#f-task', '');
	await page.fill('#f-type', 'scheduled_trigger');
	await page.click('#filters button[type=submit]');
	await page.waitForFunction(() => document.querySelectorAll('#events tbody tr').length === 2, null, {timeout: T});
	const types = await page.locator('#events tbody tr code').allTextContents();
	if (types.some((t) => t !== 'scheduled_trigger')) fail('the type filter shows ' + types.join(','));
	await page.click('#f-clear');
	await page.waitForFunction(() => document.querySelectorAll('#events tbody tr').length === 6, null, {timeout: T});
	ok('the task and event type filters work, and clearing shows everything');

	w.stopWatching();
	w.check('no console errors, failed requests or HTTP errors');
	await browser.close();
	await stopAll();
});
