// Debian's mosquitto as a bridge's external broker in tests (the start/stop logic lives in simulators/bridges/mosquitto.ts, shared with the simulator and the benchmark).
import { MosquittoServer, type MosquittoUser } from '../../simulators/bridges/mosquitto.js';

export { MosquittoServer, mosquittoConfig, MOSQUITTO_BINARY, type MosquittoUser } from '../../simulators/bridges/mosquitto.js';

/** Starts mosquitto on a free loopback port with these accounts; call dispose() in afterAll so it never outlives the test file. */
export async function startMosquitto(users: MosquittoUser[]): Promise<MosquittoServer> {
  const server = new MosquittoServer({ users });
  await server.start();
  return server;
}
