// Unit tests of dav.js's plain functions: ids and URLs, the multistatus parser
// (fixtures written by rclone and in the shapes Apache mod_dav and Nextcloud use),
// dates, paging. Run: node --test actions-wasm/js-webdav/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  normalizeId, childId, parentOf, nameOf, baseUrl, urlOf, idOfHref, parseXml, parseMultistatus,
  httpDateToRfc3339, toDocument, compareDocuments, page, errorFor, reasonOf, base64, checkName, DavError, addressable,
} from '../dav.js';

const fixture = (name) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');

test('ids are normalized, and ids that escape the root are refused', () => {
  assert.equal(normalizeId(''), '/');
  assert.equal(normalizeId('/'), '/');
  assert.equal(normalizeId('a/b/'), '/a/b');
  assert.equal(normalizeId('/a b/c'), '/a b/c');
  for (const bad of ['/a/../b', '/./a', '//a//b', '/..']) {
    assert.throws(() => normalizeId(bad), (e) => e instanceof DavError && e.kind === 'not-found', bad);
  }
  assert.equal(childId('/', 'x.txt'), '/x.txt');
  assert.equal(childId('/a', 'x.txt'), '/a/x.txt');
  assert.throws(() => childId('/a', 'x/y'), /cannot contain "\/"/);
  assert.throws(() => checkName('..'), /not a valid name/);
  assert.throws(() => checkName('  '), /empty/);
  assert.equal(parentOf('/a/b'), '/a');
  assert.equal(parentOf('/a'), '/');
  assert.equal(nameOf('/a/b c'), 'b c');
});

test('URLs encode each segment; the base keeps its path', () => {
  const base = baseUrl('http://127.0.0.1:8090/dav');
  assert.equal(base, 'http://127.0.0.1:8090/dav/');
  assert.equal(urlOf(base, '/'), base);
  assert.equal(urlOf(base, '/a b/x&y#?.txt'), 'http://127.0.0.1:8090/dav/a%20b/x%26y%23%3F.txt');
  assert.equal(urlOf(base, '/Q1 – café', true), 'http://127.0.0.1:8090/dav/Q1%20%E2%80%93%20caf%C3%A9/');
  assert.equal(urlOf(base, "/it's (1)"), "http://127.0.0.1:8090/dav/it%27s%20%281%29");
  assert.throws(() => baseUrl('ftp://x/'), /http or https/);
  assert.throws(() => baseUrl(undefined), /base-url/);
});

test('hrefs map back to ids, absolute or not, however they are encoded', () => {
  const base = baseUrl('http://127.0.0.1:8090/dav/');
  assert.equal(idOfHref(base, '/dav/'), '/');
  assert.equal(idOfHref(base, '/dav'), '/');
  assert.equal(idOfHref(base, '/dav/a%20b/'), '/a b');
  assert.equal(idOfHref(base, '/dav/a b/c'), '/a b/c');
  assert.equal(idOfHref(base, 'http://other:1/dav/x%C3%A9'), '/xé');
  assert.equal(idOfHref(base, '/elsewhere/x'), null);
  assert.equal(idOfHref(base, '/dav/a%2Fb'), null); // an encoded slash cannot be an id segment
  assert.equal(idOfHref(base, '/dav/100%'), '/100%');
});

test('rclone multistatus: folder first, names percent-decoded, entities decoded', () => {
  const base = baseUrl('http://127.0.0.1:18090/');
  const entries = parseMultistatus(fixture('rclone-depth1.xml'));
  assert.equal(entries.length, 3);
  const docs = entries.map((e) => toDocument(base, e));
  assert.deepEqual(docs[0], { id: '/a b', title: 'a b', kind: 'folder', dateModified: docs[0].dateModified });
  assert.match(docs[0].dateModified, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.equal(docs[1].id, '/a b/sub');
  assert.equal(docs[1].kind, 'folder');
  assert.equal(docs[2].id, '/a b/x&y.txt');
  assert.equal(docs[2].title, 'x&y.txt');
  assert.equal(docs[2].kind, 'file');
  assert.equal(docs[2].size, 3n);
  assert.equal(docs[2].mimeType, 'text/plain; charset=utf-8');
});

test('Apache-style prefixes (lp1:, D:), 404 propstats and 404 responses', () => {
  const base = baseUrl('http://h/dav/');
  const entries = parseMultistatus(fixture('apache-depth1.xml'));
  assert.equal(entries.length, 2, 'the 404 response is left out');
  const [folder, file] = entries.map((e) => toDocument(base, e));
  assert.deepEqual(folder, { id: '/Reports', title: 'Reports', kind: 'folder', dateModified: '2026-12-01T09:05:00Z' });
  assert.deepEqual(file, {
    id: '/Reports/Q1 – café.pdf', title: 'Q1 – café.pdf', kind: 'file', mimeType: 'application/pdf',
    size: 123456789012n, dateModified: '2026-12-02T10:00:01Z',
  });
});

test('Nextcloud-style: d: prefix, absolute hrefs, CDATA, other namespaces ignored', () => {
  const base = baseUrl('https://cloud.example.com/remote.php/dav/files/jane/');
  const [folder, file] = parseMultistatus(fixture('nextcloud-depth1.xml')).map((e) => toDocument(base, e));
  assert.equal(folder.id, '/Shared Docs');
  assert.equal(folder.title, 'Shared Docs', 'oc:displayname is not DAV:displayname');
  assert.equal(file.id, '/Shared Docs/notes.md');
  assert.equal(file.title, 'Notes <draft>');
  assert.equal(file.size, 42n);
  assert.equal(file.dateModified, '2026-12-03T12:30:15Z');
});

test('default namespace, RFC 850 and asctime dates, foreign displayname', () => {
  const base = baseUrl('http://h/files/');
  const docs = parseMultistatus(fixture('default-ns.xml')).map((e) => toDocument(base, e));
  assert.equal(docs[0], null, 'an href with an encoded slash is not under the root');
  assert.deepEqual(docs[1], {
    id: '/plain.txt', title: 'plain.txt', kind: 'file', mimeType: 'text/plain', dateModified: '1994-11-06T08:49:37Z',
  });
  const entries = parseMultistatus(fixture('default-ns.xml'));
  assert.equal(entries[0].displayname, undefined);
  assert.equal(httpDateToRfc3339(entries[0].lastModified), '1994-11-06T08:49:37Z');
});

test('malformed XML is a failure, not a crash', () => {
  for (const bad of ['', 'not xml', '<D:multistatus xmlns:D="DAV:">', '<a></b>', '<x:a/>', '<a/><b/>', '<a>1 < 2</a>']) {
    assert.throws(() => parseMultistatus(bad), (e) => e instanceof DavError && e.kind === 'failed', JSON.stringify(bad));
  }
  assert.throws(() => parseMultistatus('<error xmlns="DAV:"/>'), /not a DAV: multistatus/);
  assert.deepEqual(parseMultistatus('<D:multistatus xmlns:D="DAV:"/>'), []);
  const root = parseXml(`<?xml version='1.0'?><!DOCTYPE x><a xmlns:p='urn:p' k="&quot;v&#65;&#x42;"><p:b>t&lt;u</p:b></a>`);
  assert.equal(root.attributes[0][1], '"vAB');
  assert.equal(root.children[0].ns, 'urn:p');
  assert.equal(root.children[0].text, 't<u');
});

test('HTTP dates become RFC 3339', () => {
  assert.equal(httpDateToRfc3339('Sun, 06 Nov 1994 08:49:37 GMT'), '1994-11-06T08:49:37Z');
  assert.equal(httpDateToRfc3339('Mon, 7 Dec 2026 03:17:03 GMT'), '2026-12-07T03:17:03Z');
  assert.equal(httpDateToRfc3339('2026-12-07T10:00:00.5+01:00'), '2026-12-07T09:00:00.500Z');
  assert.equal(httpDateToRfc3339('Sun, 31 Feb 2026 08:49:37 GMT'), undefined);
  assert.equal(httpDateToRfc3339('yesterday'), undefined);
  assert.equal(httpDateToRfc3339(undefined), undefined);
});

test('listing order and paging', () => {
  const docs = [
    { id: '/b.txt', title: 'b.txt', kind: 'file' },
    { id: '/Z', title: 'Z', kind: 'folder' },
    { id: '/A.txt', title: 'A.txt', kind: 'file' },
    { id: '/a', title: 'a', kind: 'folder' },
  ].sort(compareDocuments);
  assert.deepEqual(docs.map((d) => d.id), ['/a', '/Z', '/A.txt', '/b.txt']);
  assert.deepEqual(page(docs, 2, 1).map((d) => d.id), ['/Z', '/A.txt']);
  assert.deepEqual(page(docs, 100, 3).map((d) => d.id), ['/b.txt']);
  assert.deepEqual(page(docs, 0, 0), []);
  assert.deepEqual(page(docs, 10, 10), []);
});

test('status mapping, reasons, Basic auth, id length', () => {
  assert.equal(errorFor(404, '', 'GET /x').kind, 'not-found');
  assert.equal(errorFor(401, '', 'GET /x').kind, 'forbidden');
  assert.equal(errorFor(403, 'Nope', 'GET /x').message, 'GET /x: the WebDAV server refused access (403 Nope)');
  const e = errorFor(507, '', 'PUT /x', 'disk full');
  assert.equal(e.kind, 'failed');
  assert.equal(e.message, 'PUT /x: the WebDAV server answered 507 Insufficient Storage: disk full');
  assert.equal(reasonOf('<?xml version="1.0"?><d:error xmlns:d="DAV:"><s:message>Quota &amp; more</s:message></d:error>'), 'Quota & more');
  assert.equal(base64('jane:pässword'), Buffer.from('jane:pässword').toString('base64'));
  assert.equal(base64('ab'), 'YWI=');
  assert.ok(addressable('/' + 'x'.repeat(254)));
  assert.ok(!addressable('/' + 'x'.repeat(255)));
});
