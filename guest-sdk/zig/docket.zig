//! docket.zig: a one-file helper for Docket actions in Zig (command ABI).
//!
//!     const std = @import("std");
//!     const docket = @import("docket");
//!
//!     pub fn main(init: std.process.Init) void {
//!         docket.serve(init, run);
//!     }
//!
//!     fn run(req: docket.Request, arena: std.mem.Allocator) !docket.Outcome {
//!         if (req.username.len == 0) return .{ .forbidden = "sign in first" };
//!         // req.usernameVerified: true only when the user was proven by OAuth2 sign-in
//!         const stage = req.param("stage") orelse "draft";    // query parameter, or null
//!         const folder = req.setting("folder") orelse "Inbox"; // manifest [config], or null
//!         return docket.success(arena, "{s} filed in {s}/{s}", .{ req.documentId, folder, stage });
//!     }
//!
//! Build: zig build-exe -target wasm32-wasi -O ReleaseSmall --name action \
//!            --dep docket -Mroot=action.zig -Mdocket=docket.zig
//!
//! `serve` reads the request JSON on stdin (CONTRACT.md), calls `run`, and
//! writes one JSON answer on stdout with its strings escaped. Input that is not
//! a request (not JSON, a missing documentId, a non-string param…) and any error
//! `run` returns are answered as a clean "failed"; they never abort. A panic or
//! `unreachable` traps, which Docket reports as a 500 "crashed: wasm trap".
//!
//! Calling out, when the manifest grants it: `http`, `kvGet`, `kvSet`,
//! `kvDelete`, `kvIncrement` answer `.ok` or `.err` with the error text
//! (see "Calling out" below and README.md).

const std = @import("std");

/// A JSON object of strings: `params`, `config`, `secrets`.
pub const Strings = std.json.ArrayHashMap([]const u8);

/// The request Docket sends. All strings are decoded (escapes, \uXXXX and
/// surrogate pairs to UTF-8) and live until `run` returns.
pub const Request = struct {
    /// The action name Workfront sent.
    action: []const u8 = "",
    /// The Workfront document id (required).
    documentId: []const u8,
    /// The Workfront document version id (required).
    documentVersionId: []const u8,
    /// The Workfront user; "" when absent.
    username: []const u8 = "",
    /// True when `username` was proven by the user's sign-in at the tenant's
    /// identity provider (Workfront's OAuth2 mode); false when it is only what
    /// the caller sent (ApiKey mode: anyone holding the tenant's key can send
    /// any username) or absent. An action that decides by user should require it.
    usernameVerified: bool = false,
    /// Every other query parameter of the call.
    params: Strings = .{},
    /// The manifest's `[config]` table; numbers and booleans arrive as strings.
    config: Strings = .{},
    /// Granted tenant secrets; null unless the manifest grants any.
    secrets: ?Strings = null,
    /// The tenant the action runs for.
    tenant: []const u8 = "",
    /// Docket's id for this invocation.
    requestId: []const u8 = "",

    /// A query parameter, or null.
    pub fn param(req: Request, name: []const u8) ?[]const u8 {
        return req.params.map.get(name);
    }
    /// A `[config]` value of the manifest, or null.
    pub fn setting(req: Request, name: []const u8) ?[]const u8 {
        return req.config.map.get(name);
    }
    /// A granted tenant secret, or null.
    pub fn secret(req: Request, name: []const u8) ?[]const u8 {
        const secrets = req.secrets orelse return null;
        return secrets.map.get(name);
    }
};

/// What the action answers. Success carries an optional message; each failure
/// kind carries the error the Workfront user sees.
pub const Outcome = union(enum) {
    success: ?[]const u8, // 200
    forbidden: []const u8, // 403
    not_found: []const u8, // 404
    failed: []const u8, // 500

    /// Writes the outcome as one line of response JSON.
    pub fn write(outcome: Outcome, w: *std.Io.Writer) std.Io.Writer.Error!void {
        const kind, const text = switch (outcome) {
            .success => |message| {
                try w.writeAll("{\"status\":\"success\"");
                if (message) |m| {
                    try w.writeAll(",\"message\":");
                    try writeString(w, m);
                }
                return w.writeAll("}\n");
            },
            .forbidden => |e| .{ "forbidden", e },
            .not_found => |e| .{ "not-found", e },
            .failed => |e| .{ "failed", e },
        };
        try w.print("{{\"status\":\"failure\",\"kind\":\"{s}\",\"error\":", .{kind});
        try writeString(w, text);
        try w.writeAll("}\n");
    }
};

/// A JSON string; bytes that are not UTF-8 become U+FFFD so the answer stays valid.
fn writeString(w: *std.Io.Writer, text: []const u8) std.Io.Writer.Error!void {
    if (std.unicode.utf8ValidateSlice(text)) return std.json.Stringify.encodeJsonString(text, .{}, w);
    try w.writeByte('"');
    var i: usize = 0;
    while (i < text.len) {
        const len = std.unicode.utf8ByteSequenceLength(text[i]) catch 0;
        if (len == 0 or i + len > text.len or !std.unicode.utf8ValidateSlice(text[i..][0..len])) {
            try w.writeAll(&std.unicode.replacement_character_utf8);
            i += 1;
        } else {
            try std.json.Stringify.encodeJsonStringChars(text[i..][0..len], .{}, w);
            i += len;
        }
    }
    try w.writeByte('"');
}

/// `.{ .success = message }` with a formatted message.
pub fn success(arena: std.mem.Allocator, comptime fmt: []const u8, args: anytype) !Outcome {
    return .{ .success = try std.fmt.allocPrint(arena, fmt, args) };
}
/// A 403 with a formatted error.
pub fn forbidden(arena: std.mem.Allocator, comptime fmt: []const u8, args: anytype) !Outcome {
    return .{ .forbidden = try std.fmt.allocPrint(arena, fmt, args) };
}
/// A 404 with a formatted error.
pub fn notFound(arena: std.mem.Allocator, comptime fmt: []const u8, args: anytype) !Outcome {
    return .{ .not_found = try std.fmt.allocPrint(arena, fmt, args) };
}
/// A 500 with a formatted error.
pub fn failed(arena: std.mem.Allocator, comptime fmt: []const u8, args: anytype) !Outcome {
    return .{ .failed = try std.fmt.allocPrint(arena, fmt, args) };
}

/// Parses a request; on bad input returns the `failed` outcome to answer instead.
pub fn parse(arena: std.mem.Allocator, json: []const u8) union(enum) { ok: Request, bad: Outcome } {
    const req = std.json.parseFromSliceLeaky(Request, arena, json, .{
        .ignore_unknown_fields = true,
        .duplicate_field_behavior = .use_first,
    }) catch |err| return .{ .bad = .{ .failed = switch (err) {
        error.MissingField => "bad request: documentId or documentVersionId is missing",
        error.OutOfMemory => "bad request: out of memory",
        error.UnexpectedToken => "bad request: expected an object of strings",
        else => "bad request: not JSON",
    } } };
    return .{ .ok = req };
}

/// Answers one invocation: reads the request on stdin, calls `run`, writes the outcome.
pub fn serve(
    init: std.process.Init,
    comptime run: fn (Request, std.mem.Allocator) anyerror!Outcome,
) void {
    const arena = init.arena.allocator();
    var out_buf: [4096]u8 = undefined;
    var stdout = std.Io.File.stdout().writerStreaming(init.io, &out_buf);
    const outcome = answer(init, arena, run);
    outcome.write(&stdout.interface) catch {};
    stdout.interface.flush() catch {};
}

fn answer(
    init: std.process.Init,
    arena: std.mem.Allocator,
    comptime run: fn (Request, std.mem.Allocator) anyerror!Outcome,
) Outcome {
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.stdin().readerStreaming(init.io, &in_buf);
    const json = stdin.interface.allocRemaining(arena, .limited(16 << 20)) catch |err|
        return .{ .failed = if (err == error.StreamTooLong) "bad request: larger than 16 MiB" else "bad request: stdin could not be read" };
    const req = switch (parse(arena, json)) {
        .ok => |req| req,
        .bad => |outcome| return outcome,
    };
    return run(req, arena) catch |err| failed(arena, "action failed: {t}", .{err}) catch .{ .failed = "action failed" };
}

// ---- Calling out: outbound HTTP and the key-value store --------------------
//
// Each works only when the manifest grants it ([capabilities]
// allowed-outbound-hosts, key-value); otherwise the call answers `.err` with
// an error naming the key to set. The calls go through Docket's
// docket::host_call import (CONTRACT.md, "Capabilities"); a module that never
// calls them does not import it.

/// A call's value, or the error text it failed with. Never a trap.
pub fn Result(comptime T: type) type {
    return union(enum) { ok: T, err: []const u8 };
}

/// An HTTP response. A 4xx or 5xx is a response like any other, not an error.
pub const Response = struct {
    status: u16,
    headers: Strings = .{},
    /// The body as UTF-8 text.
    body: []const u8 = "",

    /// A response header (the name in any case), or null.
    pub fn header(response: Response, name: []const u8) ?[]const u8 {
        var it = response.headers.map.iterator();
        while (it.next()) |entry| if (std.ascii.eqlIgnoreCase(entry.key_ptr.*, name)) return entry.value_ptr.*;
        return null;
    }
};

/// Sends an HTTP request (`content_type` and `body` may be null) and waits for its response.
pub fn http(arena: std.mem.Allocator, method: []const u8, url: []const u8, content_type: ?[]const u8, body: ?[]const u8) Result(Response) {
    var op: std.Io.Writer.Allocating = .init(arena);
    writeHttpOp(&op.writer, method, url, content_type, body) catch return .{ .err = "out of memory" };
    const reply = switch (exchange(arena, op.written())) {
        .ok => |reply| reply,
        .err => |e| return .{ .err = e },
    };
    var response: Response = .{ .status = 0 };
    if (reply.get("status")) |v| if (v == .integer) {
        response.status = std.math.cast(u16, v.integer) orelse 0;
    };
    if (reply.get("body")) |v| if (v == .string) {
        response.body = v.string;
    };
    if (reply.get("headers")) |v| if (v == .object) {
        var it = v.object.iterator();
        while (it.next()) |h| if (h.value_ptr.* == .string) {
            response.headers.map.put(arena, h.key_ptr.*, h.value_ptr.string) catch break;
        };
    };
    return .{ .ok = response };
}

/// The value at `key`, or null when it is unset.
pub fn kvGet(arena: std.mem.Allocator, key: []const u8) Result(?[]const u8) {
    const reply = switch (kv(arena, "kv.get", key, null, null)) {
        .ok => |reply| reply,
        .err => |e| return .{ .err = e },
    };
    const value = reply.get("value") orelse return .{ .ok = null };
    return .{ .ok = if (value == .string) value.string else null };
}

/// Sets `key` to `value`.
pub fn kvSet(arena: std.mem.Allocator, key: []const u8, value: []const u8) Result(void) {
    return switch (kv(arena, "kv.set", key, value, null)) {
        .ok => .{ .ok = {} },
        .err => |e| .{ .err = e },
    };
}

/// Removes `key`; answers whether it existed.
pub fn kvDelete(arena: std.mem.Allocator, key: []const u8) Result(bool) {
    const reply = switch (kv(arena, "kv.delete", key, null, null)) {
        .ok => |reply| reply,
        .err => |e| return .{ .err = e },
    };
    const existed = reply.get("existed") orelse return .{ .ok = false };
    return .{ .ok = existed == .bool and existed.bool };
}

/// Adds `by` to the integer at `key` (unset counts as 0); answers the new value.
pub fn kvIncrement(arena: std.mem.Allocator, key: []const u8, by: i64) Result(i64) {
    const reply = switch (kv(arena, "kv.increment", key, null, by)) {
        .ok => |reply| reply,
        .err => |e| return .{ .err = e },
    };
    const value = reply.get("value") orelse return .{ .err = "kv.increment: the reply has no value" };
    return if (value == .integer) .{ .ok = value.integer } else .{ .err = "kv.increment: the reply's value is not an integer" };
}

/// `{f}` prints `text` as a quoted, escaped JSON string, e.g. to build a body:
/// `std.fmt.allocPrint(arena, "{{\"text\":{f}}}", .{docket.jsonString(message)})`.
pub fn jsonString(text: []const u8) JsonString {
    return .{ .text = text };
}
pub const JsonString = struct {
    text: []const u8,
    pub fn format(s: JsonString, w: *std.Io.Writer) std.Io.Writer.Error!void {
        return writeString(w, s.text);
    }
};

fn writeHttpOp(w: *std.Io.Writer, method: []const u8, url: []const u8, content_type: ?[]const u8, body: ?[]const u8) std.Io.Writer.Error!void {
    try w.print("{{\"op\":\"http\",\"method\":{f},\"url\":{f}", .{ jsonString(method), jsonString(url) });
    if (content_type) |t| try w.print(",\"headers\":{{\"content-type\":{f}}}", .{jsonString(t)});
    if (body) |b| try w.print(",\"body\":{f}", .{jsonString(b)});
    try w.writeByte('}');
}

fn writeKvOp(w: *std.Io.Writer, op: []const u8, key: []const u8, value: ?[]const u8, by: ?i64) std.Io.Writer.Error!void {
    try w.print("{{\"op\":\"{s}\",\"key\":{f}", .{ op, jsonString(key) });
    if (value) |v| try w.print(",\"value\":{f}", .{jsonString(v)});
    if (by) |n| try w.print(",\"by\":{d}", .{n});
    try w.writeByte('}');
}

fn kv(arena: std.mem.Allocator, op: []const u8, key: []const u8, value: ?[]const u8, by: ?i64) Result(std.json.ObjectMap) {
    var text: std.Io.Writer.Allocating = .init(arena);
    writeKvOp(&text.writer, op, key, value, by) catch return .{ .err = "out of memory" };
    return exchange(arena, text.written());
}

/// Sends one operation through docket::host_call and reads the reply.
fn exchange(arena: std.mem.Allocator, op: []const u8) Result(std.json.ObjectMap) {
    if (comptime !@import("builtin").cpu.arch.isWasm()) return .{ .err = "calling out works only in wasm, under Docket" };
    const len = host.host_call(op.ptr, std.math.cast(i32, op.len) orelse return .{ .err = "the operation is too large" });
    if (len <= 0) return .{ .err = "Docket gave an empty reply" };
    const buffer = arena.alloc(u8, @intCast(len)) catch return .{ .err = "out of memory" };
    const copied = host.host_reply(buffer.ptr, len);
    return parseReply(arena, buffer[0..@intCast(std.math.clamp(copied, 0, len))]);
}

const host = struct {
    extern "docket" fn host_call(op: [*]const u8, len: i32) i32;
    extern "docket" fn host_reply(buffer: [*]u8, len: i32) i32;
};

/// `{"ok":true,…}` gives its fields; `{"ok":false,"error":…}` or anything odd, an error.
fn parseReply(arena: std.mem.Allocator, text: []const u8) Result(std.json.ObjectMap) {
    const value = std.json.parseFromSliceLeaky(std.json.Value, arena, text, .{}) catch
        return .{ .err = "Docket's reply is not JSON" };
    if (value != .object) return .{ .err = "Docket's reply is not an object" };
    const reply = value.object;
    if (reply.get("ok")) |ok| if (ok == .bool and ok.bool) return .{ .ok = reply };
    if (reply.get("error")) |e| if (e == .string) return .{ .err = e.string };
    return .{ .err = "the call failed without an error" };
}

// `zig test docket.zig` runs these on the host.
fn render(outcome: Outcome) ![]u8 {
    var out: std.Io.Writer.Allocating = .init(std.testing.allocator);
    defer out.deinit();
    try outcome.write(&out.writer);
    return out.toOwnedSlice();
}

test "strings are unescaped on input and escaped on output" {
    var arena_state = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena_state.deinit();
    const req = parse(arena_state.allocator(),
        \\{"documentId":"a\"b\\c\n\u00e9\ud83d\ude00","documentVersionId":"v","params":{"k":"x"},"extra":[1]}
    ).ok;
    try std.testing.expectEqualStrings("a\"b\\c\n\u{e9}\u{1F600}", req.documentId);
    try std.testing.expectEqualStrings("x", req.param("k").?);
    try std.testing.expectEqual(null, req.secret("k"));
    const json = try render(.{ .not_found = req.documentId });
    defer std.testing.allocator.free(json);
    try std.testing.expectEqualStrings("{\"status\":\"failure\",\"kind\":\"not-found\",\"error\":\"a\\\"b\\\\c\\n\u{e9}\u{1F600}\"}\n", json);
}

test "usernameVerified is read, and false when absent" {
    var arena_state = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena_state.deinit();
    const arena = arena_state.allocator();
    try std.testing.expect(parse(arena, "{\"documentId\":\"d\",\"documentVersionId\":\"v\",\"usernameVerified\":true}").ok.usernameVerified);
    try std.testing.expect(!parse(arena, "{\"documentId\":\"d\",\"documentVersionId\":\"v\",\"usernameVerified\":false}").ok.usernameVerified);
    try std.testing.expect(!parse(arena, "{\"documentId\":\"d\",\"documentVersionId\":\"v\"}").ok.usernameVerified);
}

test "odd input is a clean failure" {
    var arena_state = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena_state.deinit();
    for ([_][]const u8{ "", "nope", "[]", "{\"documentId\":\"d\"}", "{\"documentId\":\"d\",\"documentVersionId\":\"v\",\"params\":{\"n\":1}}", "{\"documentId\":\"\\ud800\",\"documentVersionId\":\"v\"}" }) |input| {
        try std.testing.expect(parse(arena_state.allocator(), input).bad == .failed);
    }
}

test "bytes that are not UTF-8 still give valid JSON" {
    const json = try render(.{ .success = "a\xffb\xe2\x82" });
    defer std.testing.allocator.free(json);
    try std.testing.expectEqualStrings("{\"status\":\"success\",\"message\":\"a\u{FFFD}b\u{FFFD}\u{FFFD}\"}\n", json);
}

test "capability operations are escaped and replies read without trusting them" {
    var arena_state = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena_state.deinit();
    const arena = arena_state.allocator();
    var op: std.Io.Writer.Allocating = .init(arena);
    try writeHttpOp(&op.writer, "POST", "http://h/x?a=\"b\"", "application/json", "{\"text\":\"a\\b\n\"}");
    try std.testing.expectEqualStrings(
        \\{"op":"http","method":"POST","url":"http://h/x?a=\"b\"","headers":{"content-type":"application/json"},"body":"{\"text\":\"a\\b\n\"}"}
    , op.written());
    const reply = parseReply(arena, "{\"ok\":true,\"status\":200,\"body\":\"\\u00e9\\\"\",\"value\":null}").ok;
    try std.testing.expectEqualStrings("\u{e9}\"", reply.get("body").?.string);
    try std.testing.expectEqualStrings("no \"key\"", parseReply(arena, "{\"ok\":false,\"error\":\"no \\\"key\\\"\"}").err);
    for ([_][]const u8{ "", "nope", "[]", "{}", "{\"ok\":\"true\"}", "{\"ok\":false,\"error\":3}" }) |odd| {
        try std.testing.expect(parseReply(arena, odd) == .err);
    }
    // Off wasm every call is a clean error.
    try std.testing.expect(kvIncrement(arena, "runs", 1) == .err);
    try std.testing.expect(kvGet(arena, "runs") == .err and kvSet(arena, "runs", "1") == .err and kvDelete(arena, "runs") == .err);
    try std.testing.expect(http(arena, "GET", "https://example.com", null, null) == .err);
}
