import { describe, expect, it } from 'vitest';
import { healthView, pendingView, unreachableView } from './health';

const row = (view: ReturnType<typeof healthView>, name: string) =>
	view.rows.find((r) => r.name === name);

describe('healthView', () => {
	it('shows every service ok when the backend answers 200 with all checks ok', () => {
		const view = healthView(200, { status: 'ok', checks: { postgres: 'ok', redis: 'ok' } });
		expect(view.overall).toBe('ok');
		expect(view.headline).toBe('all services healthy');
		expect(view.rows.map((r) => [r.name, r.state])).toEqual([
			['backend', 'ok'],
			['postgres', 'ok'],
			['redis', 'ok']
		]);
	});

	it('names the failed dependency and its error on a 503', () => {
		const view = healthView(503, {
			status: 'degraded',
			checks: { postgres: 'ok', redis: 'error: dial tcp: connection refused' }
		});
		expect(view.overall).toBe('down');
		expect(view.headline).toBe('degraded: redis');
		expect(row(view, 'redis')).toEqual({
			name: 'redis',
			state: 'down',
			detail: 'dial tcp: connection refused'
		});
		expect(row(view, 'backend')?.state).toBe('ok');
	});

	it('accepts checks given as objects', () => {
		const view = healthView(503, {
			checks: { postgres: { status: 'error', error: 'timeout' }, redis: { status: 'ok' } }
		});
		expect(row(view, 'postgres')).toMatchObject({ state: 'down', detail: 'timeout' });
		expect(row(view, 'redis')?.state).toBe('ok');
	});

	it('treats a body without checks (a proxy error page) as an unreachable backend', () => {
		const view = healthView(502, null);
		expect(view.overall).toBe('down');
		expect(view.headline).toBe('backend unreachable: HTTP 502');
		expect(row(view, 'backend')?.state).toBe('down');
		expect(row(view, 'postgres')?.state).toBe('unknown');
	});
});

describe('placeholder views', () => {
	it('lists the expected services as unknown before the first poll', () => {
		expect(pendingView().rows.map((r) => r.state)).toEqual(['unknown', 'unknown', 'unknown']);
	});

	it('keeps the network error as the backend detail', () => {
		expect(row(unreachableView('fetch failed'), 'backend')?.detail).toBe('fetch failed');
	});
});
