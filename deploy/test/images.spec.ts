import { describe, expect, it } from '@jest/globals';
import { SERVICES, projectRoot } from '@provisio/devstack';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { kustomize, type K8sObject } from './manifest-validation.js';

/**
 * Where the images come from: deploy/docker/build-images.sh builds (and pushes) one image per
 * service, and each overlay's `images:` names exactly those, one entry per service, so an upgrade
 * can move one service at a time (docs/runbook.md#upgrades). No Docker engine runs here: the
 * script runs against a stand-in `docker` that records what it was asked to do.
 */
const root = projectRoot();
const k8s = join(root, 'deploy/kubernetes');
const names = SERVICES.map((s) => s.name).sort();

function buildImages(args: string[]): { status: number | null; stderr: string; calls: string[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'provisio-build-images-'));
  try {
    const log = join(dir, 'calls');
    const docker = join(dir, 'docker');
    writeFileSync(docker, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${log}"\n`);
    chmodSync(docker, 0o755);
    writeFileSync(log, '');
    const r = spawnSync('bash', [join(root, 'deploy/docker/build-images.sh'), ...args], { env: { PATH: process.env['PATH'] ?? '', DOCKER: docker }, encoding: 'utf8' });
    const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
    return { status: r.status, stderr: r.stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every container image of every pod template (Deployments, Jobs, CronJobs), by object. */
function imagesOf(objs: K8sObject[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objs) {
    const spec = o['spec'] as { template?: { spec?: { containers?: { image: string }[] } }; jobTemplate?: { spec: { template: { spec: { containers: { image: string }[] } } } } } | undefined;
    const containers = spec?.template?.spec?.containers ?? spec?.jobTemplate?.spec.template.spec.containers ?? [];
    for (const c of containers) out[`${o.kind}/${o.metadata.name}`] = c.image;
  }
  return out;
}

describe('images: built by deploy/docker/build-images.sh, named by every overlay', () => {
  it('builds every service from the Dockerfile, by default as provisio/<service>:dev, without pushing', () => {
    const r = buildImages([]);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(names.map((s) => ['build', '-f', join(root, 'deploy/docker/Dockerfile'), '--build-arg', `SERVICE=${s}`, '-t', `provisio/${s}:dev`, root]));
  });

  it('tags for a registry and pushes with --push; a named service builds alone; an unknown one is refused', () => {
    const r = buildImages(['--registry', 'registry.example.com/provisio', '--tag', '0.2.0', '--push']);
    expect(r.status).toBe(0);
    expect(r.calls.filter((c) => c[0] === 'push')).toEqual(names.map((s) => ['push', `registry.example.com/provisio/${s}:0.2.0`]));
    expect(r.calls.filter((c) => c[0] === 'build')).toHaveLength(names.length);
    expect(buildImages(['--tag', 'x', 'audit']).calls.map((c) => c.at(-2))).toEqual(['provisio/audit:x']);
    const bad = buildImages(['nope']);
    expect({ status: bad.status, calls: bad.calls }).toEqual({ status: 2, calls: [] });
    expect(bad.stderr).toMatch(/unknown service 'nope'/);
  });

  it.each(['production', 'development'])('%s: names, one entry per service, only images the script builds (nothing left on the unpublished base names)', (overlay) => {
    const kustomization = parse(readFileSync(join(k8s, 'overlays', overlay, 'kustomization.yaml'), 'utf8')) as { images?: { name: string; newName: string; newTag: string }[] };
    const entries = kustomization.images ?? [];
    expect(entries.map((e) => e.name).sort()).toEqual(names.map((s) => `ghcr.io/provisio/${s}`));
    const images = imagesOf(kustomize(join(k8s, 'overlays', overlay)));
    expect(Object.keys(images).length).toBeGreaterThanOrEqual(names.length);
    for (const [object, image] of Object.entries(images)) {
      // <registry>/<service>:<tag>, as build-images.sh --registry <registry> --tag <tag> makes it.
      const m = /^(.+)\/([a-z-]+):([\w.-]+)$/.exec(image);
      expect({ object, image, service: names.includes(m?.[2] ?? '') }).toEqual({ object, image, service: true });
      expect(image.startsWith('ghcr.io/provisio/')).toBe(false);
    }
    if (overlay === 'development') expect(new Set(Object.values(images))).toEqual(new Set(names.map((s) => `provisio/${s}:dev`)));
  });

  it('upgrades one service at a time: a new tag on the audit entry of a site overlay moves audit and its jobs, nothing else (docs/runbook.md)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provisio-site-'));
    try {
      const production = readFileSync(join(k8s, 'overlays/production/kustomization.yaml'), 'utf8');
      const site = production.replaceAll('../../', `${relative(dir, k8s)}/`);
      const staged = site.replace(/(name: ghcr\.io\/provisio\/audit, newName: [^,]+, newTag: )[\w.-]+/, '$10.2.0');
      expect(staged).not.toBe(site);
      writeFileSync(join(dir, 'namespace.yaml'), readFileSync(join(k8s, 'overlays/production/namespace.yaml')));
      writeFileSync(join(dir, 'kustomization.yaml'), site);
      const before = imagesOf(kustomize(dir));
      writeFileSync(join(dir, 'kustomization.yaml'), staged);
      const after = imagesOf(kustomize(dir));
      const changed = Object.keys(after).filter((k) => after[k] !== before[k]).sort();
      expect(changed).toEqual(['CronJob/audit-retention', 'Deployment/audit', 'Job/audit-migrate']);
      for (const k of changed) expect(after[k]).toBe('registry.example.com/provisio/audit:0.2.0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
