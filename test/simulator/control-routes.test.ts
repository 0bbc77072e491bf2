import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isLoopback } from '../../simulator/control-routes.js';
import { startSimulator, type TestSimulator } from './support.js';

describe('simulator control routes', () => {
  const started: TestSimulator[] = [];
  after(() => Promise.all(started.map((sim) => sim.simulator.close())));
  const from = async (sim: TestSimulator, remoteAddress: string, url: string) =>
    sim.simulator.app.inject({ method: 'GET', url, remoteAddress });

  it('answers /__sim to this machine only by default, while D1 routes answer anyone', async () => {
    const sim = await startSimulator();
    started.push(sim);
    assert.equal((await from(sim, '127.0.0.1', '/__sim/stats')).statusCode, 200);
    assert.equal((await from(sim, '::1', '/__sim/stats')).statusCode, 200);
    const remote = await from(sim, '10.1.2.3', '/__sim/faults');
    assert.equal(remote.statusCode, 403);
    assert.equal(remote.json<{ errorCode: string }>().errorCode, 'CONTROL_LOOPBACK_ONLY');
    for (const encoded of ['/%5F_sim/stats', '/%5f%5fsim/stats', '/__%73im/stats']) {
      assert.equal((await from(sim, '10.1.2.3', encoded)).statusCode, 403, encoded);
    }
    assert.equal((await from(sim, '10.1.2.3', '/healthz')).statusCode, 200);
    // A D1 route from elsewhere is refused for its missing token, not for where it came from.
    assert.equal(
      (await from(sim, '10.1.2.3', '/banking/v1/issuers/ISSUER0001/physicalCards/c1/productionStatus')).statusCode,
      401,
    );
  });

  it('answers /__sim to other machines with D1_SIM_CONTROL_FROM_ANY_HOST=true', async () => {
    const sim = await startSimulator({ D1_SIM_CONTROL_FROM_ANY_HOST: 'true' });
    started.push(sim);
    assert.equal((await from(sim, '10.1.2.3', '/__sim/stats')).statusCode, 200);
  });

  it('tells loopback addresses, IPv4-mapped ones included, from the others', () => {
    for (const address of ['127.0.0.1', '127.5.6.7', '::1', '::ffff:127.0.0.1'])
      assert.ok(isLoopback(address), address);
    for (const address of ['10.0.0.1', '::ffff:10.0.0.1', '1270.0.0.1', '::2', undefined]) {
      assert.ok(!isLoopback(address), String(address));
    }
  });
});
