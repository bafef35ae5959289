// tasks.test.mjs - the task dashboard of `ambient serve` in headless Chromium:
// the page loads without console errors or failed requests; tasks created
// through the forms appear in the table; the engine's events appear live in
// the timeline; pause, resume, run now and delete work; API errors are shown
// to the user; mutations without a JSON content type are refused (CSRF).
//
// Run by tests/browser/run.sh (CTest browser.tasks).  Every wait has a
// deadline; no fixed sleeps.
import path from 'node:path';
import {launch, ok, fail, run, screenshot, startAmbient, stopAll, watch, workDir} from './lib.mjs';

const T = 15000; // deadline of each wait

await run(async () => {
	const dir = workDir('browser-tasks');
	// With the engine (it runs schedules without any network), without
	// delivery (no feedback server here).
	const serve = await startAmbient(['--data-dir', dir, 'serve', '--listen', '127.0.0.1:0', '--no-delivery',
		'--pid-file', path.join(dir, 'serve.pid')], 'serve', dir);
	const base = serve.url;

	// The API refuses mutations a cross-site form could send.
	let r = await fetch(base + '/api/tasks', {method: 'POST', headers: {'Content-Type': 'text/plain'},
		body: '{"task_type":"schedule","description":"x","config":{"type":"daily"}}'});
	if (r.status !== 415) fail('POST /api/tasks with text/plain: got ' + r.status + ', wanted 415');
	r = await fetch(base + '/api/tasks/nope-1/pause', {method: 'POST', headers: {'Content-Type': 'application/json'}});
	if (r.status !== 404) fail('pause of an unknown task: got ' + r.status + ', wanted 404');
	ok('the API refuses non-JSON mutations (415) and unknown tasks (404)');

	const browser = await launch();
	const page = await browser.newPage({viewport: {width: 1400, height: 1000}});
	// The one request that may fail: the bad config below (400, shown to the user).
	let expectBadCreate = false;
	const w = watch(page, (kind, text, url) => expectBadCreate && url.endsWith('/api/tasks') &&
		(kind === 'http 400' || (kind === 'console' && /status of 400/.test(text))));
	page.on('dialog', (d) => d.accept()); // the delete confirmation

	const resp = await page.goto(base + '/');
	if (!resp.ok()) fail('GET / answered ' + resp.status());
	const csp = resp.headers()['content-security-policy'] || '';
	if (!/script-src 'self'/.test(csp)) fail('GET / has no Content-Security-Policy: ' + csp);
	await page.locator('#live.on').waitFor({timeout: T});
	await page.locator('#engine.ok').waitFor({timeout: T});
	await page.locator('#no-tasks').waitFor({timeout: T});
	ok('the page loads, follows the live stream, sees the engine');

	// A schedule through its form: an interval fires at once, so the engine's
	// scheduled_trigger must show up live in the timeline.
	await page.getByRole('tab', {name: 'Schedule'}).click();
	await page.fill('#sc-desc', 'Stand-up reminder');
	await page.selectOption('#sc-kind', 'interval');
	await page.fill('#sc-minutes', '60');
	await page.fill('#sc-message', 'Time for the stand-up');
	const preview = JSON.parse(await page.locator('#create-preview').textContent());
	if (preview.task_type !== 'schedule' || preview.config.type !== 'interval' || preview.config.minutes !== 60 ||
	    preview.config.message !== 'Time for the stand-up')
		fail('the schedule form builds ' + JSON.stringify(preview));
	await page.click('#create');
	const schedRow = page.locator('#tasks tbody tr', {hasText: 'Stand-up reminder'});
	await schedRow.waitFor({timeout: T});
	await page.locator('#create-result', {hasText: 'Created'}).waitFor({timeout: T});
	await page.locator('#timeline details.event', {hasText: 'task_created'}).waitFor({timeout: T});
	ok('a schedule created through the form appears in the table and its timeline');
	await page.locator('#timeline details.event', {hasText: 'scheduled_trigger'}).waitFor({timeout: T});
	const first = await page.locator('#timeline details.event code').first().textContent();
	if (first !== 'scheduled_trigger') fail('the newest event is not on top: ' + first);
	await page.locator('#timeline details.event', {hasText: 'scheduled_trigger'}).locator('summary').click();
	await page.locator('#timeline details.event[open] pre', {hasText: 'Time for the stand-up'}).waitFor({timeout: T});
	await schedRow.locator('td', {hasText: /ago|now/}).first().waitFor({timeout: T}); // last check
	ok('the engine\'s scheduled_trigger appears live, newest first, with its data');

	// A web monitor through its form; first with a bad URL: the server's
	// message is shown.
	await page.getByRole('tab', {name: 'Web monitor'}).click();
	await page.fill('#wm-desc', 'Example news');
	await page.fill('#wm-urls', 'ftp://example.com/');
	expectBadCreate = true;
	await page.click('#create');
	await page.locator('#error-text', {hasText: 'config.urls[0]'}).waitFor({timeout: T});
	await page.locator('#create-result', {hasText: 'Not created'}).waitFor({timeout: T});
	expectBadCreate = false;
	ok('an invalid config is refused and the server\'s message is shown');
	await page.click('#error-close');
	await page.fill('#wm-urls', 'https://example.com/\nhttps://example.org/news');
	await page.fill('#wm-keywords', 'AI, robots');
	await page.fill('#wm-interval', '45');
	await page.click('#create');
	const wmRow = page.locator('#tasks tbody tr', {hasText: 'Example news'});
	await wmRow.waitFor({timeout: T});
	const wmId = await wmRow.getAttribute('data-id');
	const task = await (await fetch(base + '/api/tasks/' + wmId)).json();
	const c = task.task.config;
	if (JSON.stringify(c.urls) !== '["https://example.com/","https://example.org/news"]' ||
	    JSON.stringify(c.keywords) !== '["AI","robots"]' || c.check_interval_minutes !== 45)
		fail('the web monitor was stored with ' + JSON.stringify(c));
	ok('a web monitor created through the form has the config typed in');

	// Pause, resume, run now, delete.
	await wmRow.getByRole('button', {name: 'Pause'}).click();
	await wmRow.locator('.badge.paused').waitFor({timeout: T});
	if (!(await wmRow.getByRole('button', {name: 'Run now'}).isDisabled()))
		fail('Run now is enabled on a paused task');
	await wmRow.getByRole('button', {name: 'Resume'}).click();
	await wmRow.locator('.badge.active').waitFor({timeout: T});
	await wmRow.locator('td').first().click(); // select: timeline of this task
	await page.locator('#timeline-task', {hasText: wmId}).waitFor({timeout: T});
	await page.locator('#timeline details.event', {hasText: 'task_resumed'}).waitFor({timeout: T});
	await wmRow.getByRole('button', {name: 'Run now'}).click();
	await page.locator('#timeline details.event', {hasText: 'task_run_requested'}).waitFor({timeout: T});
	await page.locator('#action-result', {hasText: 'Asked for a check'}).waitFor({timeout: T});
	ok('pause, resume and run now work and show up in the timeline');

	// The screenshot: both tasks, the schedule's timeline with an open event.
	await schedRow.locator('td').first().click();
	await page.locator('#timeline details.event', {hasText: 'scheduled_trigger'}).first().waitFor({timeout: T});
	await page.locator('#timeline details.event summary').first().click();
	await screenshot(page, 'tasks-dashboard');

	await wmRow.getByRole('button', {name: 'Delete'}).click();
	await wmRow.waitFor({state: 'detached', timeout: T});
	const gone = await (await fetch(base + '/api/tasks/' + wmId)).json();
	if (gone.task.status !== 'deleted') fail('the deleted task has status ' + gone.task.status);
	ok('delete (after the confirmation) removes the task');

	// A task created elsewhere (here: the API) appears without a reload.
	r = await fetch(base + '/api/tasks', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({task_type: 'threshold_watch', description: 'BTC under 20k',
			config: {metric: 'bitcoin_price', threshold: 20000, comparison: 'below'}})});
	if (r.status !== 201) fail('POST /api/tasks: ' + r.status + ' ' + await r.text());
	await page.locator('#tasks tbody tr', {hasText: 'BTC under 20k'}).waitFor({timeout: T});
	ok('a task created through the API appears live');

	w.stopWatching();
	w.check('no console errors, failed requests or HTTP errors besides the expected one');
	await browser.close();
	await stopAll();
});
