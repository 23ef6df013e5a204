/**
 * Rotates the master key of a running compose deployment without stopping it: the new key is written to
 * the backup first, then to the key file ahead of the old one, the gateway restarts on both, everything is
 * rewrapped online (rekey-cli), and only then is the old key retired. Killed at any point, running it
 * again finishes the same rotation; no stored byte is rewritten and no key is lost on the way.
 */
import { randomBytes } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SECRET_FILES } from '../../stacks/topology.js';
import { composeExec, recreateGateways, requireRunning, type ComposeTarget } from './deploy.js';
import { OperatorError, step } from './exec.js';
import { keyId, keyLines, replaceFile } from './keyring.js';

export interface Rotation {
  current: string;
  retired: string[];
  /** Where the backup from before the rotation was kept. */
  keptBackup: string;
}

export async function rotateMasterKey(root: string, target: ComposeTarget): Promise<Rotation> {
  await requireRunning(target.project);
  const keyFile = path.join(root, SECRET_FILES.master_key);
  const backupFile = path.join(root, 'credentials.json');
  if (!existsSync(backupFile))
    throw new OperatorError(
      'credentials.json is missing: run npm run setup-credentials first, so the new key is backed up before it is used',
    );
  const backup = JSON.parse(await readFile(backupFile, 'utf8')) as { master_key?: string };
  const inFile = keyLines(await readFile(keyFile, 'utf8'));
  const inBackup = keyLines(backup.master_key ?? '');
  let keyring: string[];
  if (inFile.length > 1) {
    // Several gateways learn the new key second (see 2.); the backup, written first, says which it is.
    keyring = sameKeys(inBackup, inFile) ? inBackup : inFile;
    step(`finishing the rotation to ${keyId(keyring[0]!)} that ${SECRET_FILES.master_key} already names`);
  } else if (inBackup.length > 1 && inBackup.slice(1).includes(inFile[0]!)) {
    keyring = inBackup;
    step(`finishing the rotation to ${keyId(keyring[0]!)} that credentials.json already backs up`);
  } else if (inBackup.join('\n') !== inFile.join('\n')) {
    throw new OperatorError(
      `credentials.json backs up a different master key than ${SECRET_FILES.master_key}; nothing was changed. ` +
        'Find out which key your data was sealed under before rotating: losing it loses every object',
    );
  } else {
    keyring = [randomBytes(32).toString('hex'), ...inFile];
    step(`new master key ${keyId(keyring[0]!)} replaces ${inFile.map(keyId).join(', ')}`);
  }
  const [current, ...older] = keyring as [string, ...string[]];

  // 1. The backup holds the new key before anything is wrapped by it; the one before stays beside it.
  const keptBackup = path.join(root, `credentials.before-${keyId(current)}.json`);
  if (!existsSync(keptBackup)) await copyFile(backupFile, keptBackup, constants.COPYFILE_EXCL);
  await chmod(keptBackup, 0o600);
  if (backup.master_key !== keyring.join('\n'))
    await replaceFile(
      backupFile,
      JSON.stringify({ ...backup, master_key: keyring.join('\n') }, null, 2) + '\n',
    );
  const restartGateway = async (why: string) => {
    step(`recreating the gateway ${why}`);
    const failed = await recreateGateways(target);
    if (failed)
      throw new OperatorError(
        `recreating the gateway failed (run npm run rotate-master-key again): ${failed}`,
      );
  };
  // 2. The key file. Replicas restart one by one: each must open the new key's wraps before any makes one.
  if (target.gateways.length > 1 && inFile[0] !== current) {
    await replaceFile(keyFile, [...older, current].join('\n') + '\n');
    await restartGateway('on both keys, the old one still wrapping');
  }
  // The new key wraps, the old ones still open what they wrapped.
  await replaceFile(keyFile, keyring.join('\n') + '\n');
  await restartGateway('on both keys');
  // 3. Every wrapped key and secret under the new key, while the gateway serves.
  step('rewrapping data keys and secrets under the new key (no object data is rewritten)');
  const rekey = await composeExec(target, 'gateway', ['node', '/opt/coffer/dist/rekey-cli.js', 'rewrap']);
  if (rekey.exitCode !== 0)
    throw new OperatorError(
      `${
        rekey.stderr
          .trim()
          .split('\n')
          .pop()
          ?.replace(/^coffer: /, '') ?? 'rewrap failed'
      }; run npm run rotate-master-key again to finish`,
    );
  step(rekey.stdout.trim().split('\n')[0] ?? 'rewrapped');
  // 4. Nothing refers to the old keys: the backup, then the key file, hold the new key alone.
  await replaceFile(backupFile, JSON.stringify({ ...backup, master_key: current }, null, 2) + '\n');
  await replaceFile(keyFile, current + '\n');
  await restartGateway('on the new key alone');
  return { current: keyId(current), retired: older.map(keyId), keptBackup };
}

function sameKeys(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}
