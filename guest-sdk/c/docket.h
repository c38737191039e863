/*
 * docket.h: a single-header helper for Docket actions in C (command ABI).
 *
 * Read the request, answer success or one of three failures:
 *
 *     #include "docket.h"
 *
 *     int main(void) {
 *         docket_request req;
 *         if (!docket_read_request(&req)) return 1;            // answers "failed" itself
 *         const char *user = docket_get(&req, "username");     // top-level string field
 *         int verified = docket_username_verified(&req);       // 1: proven by OAuth2 sign-in
 *         const char *stage = docket_param(&req, "stage");     // from "params", or NULL
 *         const char *folder = docket_config(&req, "folder");  // from "config", or NULL
 *         if (!user || !*user) return docket_forbidden("sign in first");
 *         return docket_success("done");
 *     }
 *
 * Build: clang --target=wasm32-wasi -O2 -Wl,--strip-all -o action.wasm action.c
 *
 * The parser reads the request JSON Docket writes (guest-sdk/CONTRACT.md;
 * docs/architecture.md#the-guest-contract):
 * one object of strings, with "params", "config" and "secrets" objects of
 * strings. It never aborts: malformed input makes docket_read_request return 0
 * after answering a "failed" response. Strings are decoded (escapes and \uXXXX
 * to UTF-8) and NUL-terminated; lookups return NULL when a key is absent.
 */
#ifndef DOCKET_H
#define DOCKET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCKET_MAX_FIELDS 128

typedef struct {
    const char *section; /* NULL for top-level fields, else "params", "config" or "secrets" */
    const char *key;
    const char *value;
} docket_field;

typedef struct {
    char *buffer;
    size_t field_count;
    docket_field fields[DOCKET_MAX_FIELDS];
} docket_request;

/* ---- writing responses ---------------------------------------------------- */

/* A growing text buffer, for building JSON bodies: start with `docket_buffer b = {0};`,
 * append with docket_buffer_text / docket_buffer_json_string, use b.data, free(b.data).
 * `failed` is set (and appends stop) if memory runs out. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} docket_buffer;

static inline void docket__append(docket_buffer *b, const char *text, size_t len) {
    if (b->failed) return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256);
        while (cap < b->len + len + 1) cap *= 2;
        char *bigger = realloc(b->data, cap);
        if (!bigger) { b->failed = 1; return; }
        b->data = bigger;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
}

/* Appends raw text. */
static inline void docket_buffer_text(docket_buffer *b, const char *text) { docket__append(b, text, strlen(text)); }

/* Appends `text` as a JSON string, quoted and escaped. */
static inline void docket_buffer_json_string(docket_buffer *b, const char *text) {
    docket__append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        char escaped[8];
        switch (*p) {
        case '"': docket_buffer_text(b, "\\\""); break;
        case '\\': docket_buffer_text(b, "\\\\"); break;
        case '\n': docket_buffer_text(b, "\\n"); break;
        case '\r': docket_buffer_text(b, "\\r"); break;
        case '\t': docket_buffer_text(b, "\\t"); break;
        default:
            if (*p < 0x20) { snprintf(escaped, sizeof escaped, "\\u%04x", *p); docket_buffer_text(b, escaped); }
            else docket__append(b, (const char *)p, 1);
        }
    }
    docket__append(b, "\"", 1);
}

static inline int docket__respond(const char *status, const char *kind, const char *key, const char *text) {
    docket_buffer out = {0};
    docket_buffer_text(&out, "{\"status\":\"");
    docket_buffer_text(&out, status);
    docket_buffer_text(&out, "\"");
    if (kind) {
        docket_buffer_text(&out, ",\"kind\":\"");
        docket_buffer_text(&out, kind);
        docket_buffer_text(&out, "\"");
    }
    if (text) {
        docket_buffer_text(&out, ",\"");
        docket_buffer_text(&out, key);
        docket_buffer_text(&out, "\":");
        docket_buffer_json_string(&out, text);
    }
    docket_buffer_text(&out, "}");
    /* Out of memory: still a valid answer, without the message. */
    puts(out.failed ? "{\"status\":\"failure\",\"error\":\"out of memory writing the answer\"}" : out.data);
    fflush(stdout);
    free(out.data);
    return 0;
}

/* Answers success, with a message for the user (or NULL). Returns 0 for main. */
static inline int docket_success(const char *message) { return docket__respond("success", NULL, "message", message); }
/* Answers a 403 failure. */
static inline int docket_forbidden(const char *error) { return docket__respond("failure", "forbidden", "error", error); }
/* Answers a 404 failure. */
static inline int docket_not_found(const char *error) { return docket__respond("failure", "not-found", "error", error); }
/* Answers a 500 failure. */
static inline int docket_failed(const char *error) { return docket__respond("failure", "failed", "error", error); }

/* ---- reading the request ---------------------------------------------------- */

typedef struct {
    char *p;
    char *end;
} docket__cursor;

static inline void docket__skip_ws(docket__cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static inline int docket__hex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decodes a JSON string in place; returns its start, or NULL if malformed. */
static inline char *docket__string(docket__cursor *c) {
    if (c->p >= c->end || *c->p != '"') return NULL;
    char *out = ++c->p, *start = out;
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch != '\\') { *out++ = ch; continue; }
        if (c->p >= c->end) return NULL;
        char esc = *c->p++;
        switch (esc) {
        case '"': case '\\': case '/': *out++ = esc; break;
        case 'b': *out++ = '\b'; break;
        case 'f': *out++ = '\f'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 't': *out++ = '\t'; break;
        case 'u': {
            if (c->end - c->p < 4) return NULL;
            unsigned code = 0;
            for (int i = 0; i < 4; i++) {
                int h = docket__hex(c->p[i]);
                if (h < 0) return NULL;
                code = code * 16 + (unsigned)h;
            }
            c->p += 4;
            if (code >= 0xD800 && code <= 0xDBFF && c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u') {
                unsigned low = 0;
                int ok = 1;
                for (int i = 0; i < 4; i++) {
                    int h = docket__hex(c->p[2 + i]);
                    if (h < 0) { ok = 0; break; }
                    low = low * 16 + (unsigned)h;
                }
                if (ok && low >= 0xDC00 && low <= 0xDFFF) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    c->p += 6;
                }
            }
            /* The encoding is never longer than the escape it replaces. */
            if (code < 0x80) *out++ = (char)code;
            else if (code < 0x800) { *out++ = (char)(0xC0 | (code >> 6)); *out++ = (char)(0x80 | (code & 0x3F)); }
            else if (code < 0x10000) { *out++ = (char)(0xE0 | (code >> 12)); *out++ = (char)(0x80 | ((code >> 6) & 0x3F)); *out++ = (char)(0x80 | (code & 0x3F)); }
            else { *out++ = (char)(0xF0 | (code >> 18)); *out++ = (char)(0x80 | ((code >> 12) & 0x3F)); *out++ = (char)(0x80 | ((code >> 6) & 0x3F)); *out++ = (char)(0x80 | (code & 0x3F)); }
            break;
        }
        default: return NULL;
        }
    }
    if (c->p >= c->end) return NULL;
    c->p++; /* closing quote */
    *out = '\0';
    return start;
}

/* Skips a value that is not a string (number, literal, array, nested object). */
static inline int docket__skip_value(docket__cursor *c) {
    int depth = 0;
    while (c->p < c->end) {
        char ch = *c->p;
        if (ch == '"') {
            if (!docket__string(c)) return 0;
            continue;
        }
        if (ch == '[' || ch == '{') depth++;
        else if (ch == ']' || ch == '}') {
            if (depth == 0) return 1; /* the enclosing object ends here */
            depth--;
        } else if (ch == ',' && depth == 0) return 1;
        c->p++;
    }
    return 0;
}

static inline int docket__object(docket__cursor *c, docket_request *req, const char *section) {
    docket__skip_ws(c);
    if (c->p >= c->end || *c->p != '{') return 0;
    c->p++;
    docket__skip_ws(c);
    if (c->p < c->end && *c->p == '}') { c->p++; return 1; }
    while (c->p < c->end) {
        docket__skip_ws(c);
        char *key = docket__string(c);
        if (!key) return 0;
        docket__skip_ws(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        docket__skip_ws(c);
        if (c->p < c->end && *c->p == '"') {
            char *value = docket__string(c);
            if (!value) return 0;
            if (req->field_count < DOCKET_MAX_FIELDS) {
                docket_field *f = &req->fields[req->field_count++];
                f->section = section;
                f->key = key;
                f->value = value;
            }
        } else if (c->p < c->end && *c->p == '{' && section == NULL) {
            if (!docket__object(c, req, key)) return 0;
        } else {
            char *start = c->p;
            if (!docket__skip_value(c)) return 0;
            /* A number, true, false or null is kept as its text (a copy: the
             * buffer still holds the separator that follows it). */
            size_t len = (size_t)(c->p - start);
            while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\n' || start[len - 1] == '\r' || start[len - 1] == '\t')) len--;
            if (len > 0 && *start != '[' && req->field_count < DOCKET_MAX_FIELDS) {
                char *text = malloc(len + 1);
                if (!text) return 0;
                memcpy(text, start, len);
                text[len] = '\0';
                docket_field *f = &req->fields[req->field_count++];
                f->section = section;
                f->key = key;
                f->value = text;
            }
        }
        docket__skip_ws(c);
        if (c->p < c->end && *c->p == ',') { c->p++; continue; }
        if (c->p < c->end && *c->p == '}') { c->p++; return 1; }
        return 0;
    }
    return 0;
}

/* Reads and parses the request from stdin. On failure answers "failed" and returns 0. */
static inline int docket_read_request(docket_request *req) {
    size_t size = 0, capacity = 4096;
    req->field_count = 0;
    req->buffer = malloc(capacity);
    if (!req->buffer) { docket_failed("out of memory reading the request"); return 0; }
    size_t n;
    while ((n = fread(req->buffer + size, 1, capacity - size, stdin)) > 0) {
        size += n;
        if (size == capacity) {
            char *bigger = realloc(req->buffer, capacity * 2);
            if (!bigger) { docket_failed("out of memory reading the request"); return 0; }
            req->buffer = bigger;
            capacity *= 2;
        }
    }
    docket__cursor c = { req->buffer, req->buffer + size };
    if (!docket__object(&c, req, NULL)) {
        docket_failed("the request on stdin is not the JSON object Docket sends");
        return 0;
    }
    return 1;
}

static inline const char *docket__find(const docket_request *req, const char *section, const char *key) {
    for (size_t i = 0; i < req->field_count; i++) {
        const docket_field *f = &req->fields[i];
        int same_section = (section == NULL) ? (f->section == NULL) : (f->section && strcmp(f->section, section) == 0);
        if (same_section && strcmp(f->key, key) == 0) return f->value;
    }
    return NULL;
}

/* A top-level field: "action", "documentId", "documentVersionId", "username", "tenant", "requestId"
 * ("usernameVerified" is there too, as the text "true" or "false"; use docket_username_verified). */
static inline const char *docket_get(const docket_request *req, const char *key) { return docket__find(req, NULL, key); }
/* 1 when "username" was proven by the user's sign-in at the tenant's identity provider
 * (OAuth2 mode), 0 when it is only what the caller sent (ApiKey mode: anyone holding the
 * tenant's key can send any username) or the field is absent. Check it before deciding by user. */
static inline int docket_username_verified(const docket_request *req) {
    const char *verified = docket__find(req, NULL, "usernameVerified");
    return verified && strcmp(verified, "true") == 0;
}
/* A query parameter from "params", or NULL. */
static inline const char *docket_param(const docket_request *req, const char *key) { return docket__find(req, "params", key); }
/* A value from the manifest's [config], or NULL. */
static inline const char *docket_config(const docket_request *req, const char *key) { return docket__find(req, "config", key); }
/* A granted secret, or NULL. */
static inline const char *docket_secret(const docket_request *req, const char *key) { return docket__find(req, "secrets", key); }

/* ---- capabilities: outbound HTTP and the key-value store ----------------------
 *
 * Each works only when the manifest grants it ([capabilities] allowed-outbound-hosts,
 * key-value); otherwise the call fails with an error naming the key to set.
 *
 *     docket_reply r;
 *     if (!docket_http(&r, "POST", url, "application/json", "{\"text\":\"hi\"}"))
 *         return docket_failed(docket_reply_error(&r));
 *     const char *status = docket_get(&r, "status");   // "200", as text
 *     const char *body = docket_get(&r, "body");
 *     if (!docket_kv_increment(&r, "runs", 1)) return docket_failed(docket_reply_error(&r));
 *     const char *runs = docket_get(&r, "value");      // "3", as text
 *
 * A reply is read like a request: docket_get for its fields (numbers and true/false
 * as text, null as "null"), docket_reply_header for response headers. The calls go
 * through Docket's docket::host_call import (CONTRACT.md, "Capabilities").
 */
typedef docket_request docket_reply;

__attribute__((import_module("docket"), import_name("host_call")))
int docket__host_call(const char *op, int len);
__attribute__((import_module("docket"), import_name("host_reply")))
int docket__host_reply(char *buffer, int len);

/* Sends one operation (JSON text) and parses the reply into `reply`.
 * Returns 1 when the reply says "ok", else 0 with docket_get(reply, "error") set. */
static inline int docket_host_call(docket_reply *reply, const char *op) {
    static char out_of_memory[] = "{\"ok\":false,\"error\":\"out of memory\"}";
    reply->field_count = 0;
    int len = docket__host_call(op, (int)strlen(op));
    reply->buffer = malloc((size_t)len + 1);
    docket__cursor c;
    if (reply->buffer) {
        int copied = docket__host_reply(reply->buffer, len);
        c.p = reply->buffer;
        c.end = reply->buffer + copied;
    } else {
        c.p = out_of_memory;
        c.end = out_of_memory + sizeof out_of_memory - 1;
    }
    if (!docket__object(&c, reply, NULL)) return 0;
    const char *ok = docket__find(reply, NULL, "ok");
    return ok && strcmp(ok, "true") == 0;
}

static inline int docket__call_built(docket_reply *reply, docket_buffer *op) {
    if (op->failed || !op->data) {
        free(op->data);
        reply->field_count = 0;
        return 0;
    }
    int ok = docket_host_call(reply, op->data);
    free(op->data);
    return ok;
}

/* Sends an HTTP request (content_type and body may be NULL) and waits for the response:
 * docket_get(reply, "status"), "body"; docket_reply_header(reply, "content-type"). */
static inline int docket_http(docket_reply *reply, const char *method, const char *url,
                              const char *content_type, const char *body) {
    docket_buffer op = {0};
    docket_buffer_text(&op, "{\"op\":\"http\",\"method\":");
    docket_buffer_json_string(&op, method ? method : "GET");
    docket_buffer_text(&op, ",\"url\":");
    docket_buffer_json_string(&op, url);
    if (content_type) {
        docket_buffer_text(&op, ",\"headers\":{\"content-type\":");
        docket_buffer_json_string(&op, content_type);
        docket_buffer_text(&op, "}");
    }
    if (body) {
        docket_buffer_text(&op, ",\"body\":");
        docket_buffer_json_string(&op, body);
    }
    docket_buffer_text(&op, "}");
    return docket__call_built(reply, &op);
}

static inline int docket__kv(docket_reply *reply, const char *op_name, const char *key, const char *value, const char *by) {
    docket_buffer op = {0};
    docket_buffer_text(&op, "{\"op\":");
    docket_buffer_json_string(&op, op_name);
    docket_buffer_text(&op, ",\"key\":");
    docket_buffer_json_string(&op, key);
    if (value) { docket_buffer_text(&op, ",\"value\":"); docket_buffer_json_string(&op, value); }
    if (by) { docket_buffer_text(&op, ",\"by\":"); docket_buffer_text(&op, by); }
    docket_buffer_text(&op, "}");
    return docket__call_built(reply, &op);
}

/* The value of `key` in docket_get(reply, "value") ("null" when unset). */
static inline int docket_kv_get(docket_reply *reply, const char *key) { return docket__kv(reply, "kv.get", key, NULL, NULL); }
/* Sets `key` to `value`. */
static inline int docket_kv_set(docket_reply *reply, const char *key, const char *value) { return docket__kv(reply, "kv.set", key, value, NULL); }
/* Removes `key`. */
static inline int docket_kv_delete(docket_reply *reply, const char *key) { return docket__kv(reply, "kv.delete", key, NULL, NULL); }
/* Adds `by` to the integer at `key`; the new value is docket_get(reply, "value"). */
static inline int docket_kv_increment(docket_reply *reply, const char *key, long long by) {
    char text[24];
    snprintf(text, sizeof text, "%lld", by);
    return docket__kv(reply, "kv.increment", key, NULL, text);
}
/* The error of a failed call (never NULL). */
static inline const char *docket_reply_error(const docket_reply *reply) {
    const char *error = docket__find(reply, NULL, "error");
    return error ? error : "the host gave no reply";
}
/* A response header of an HTTP reply, or NULL. */
static inline const char *docket_reply_header(const docket_reply *reply, const char *name) { return docket__find(reply, "headers", name); }

#endif /* DOCKET_H */
