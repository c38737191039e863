/*
 * c-intake: files a Workfront document version into an intake queue with a
 * priority (command ABI, C, using guest-sdk/c/docket.h).
 *
 * Config:  queue (default "Intake"), submitters (comma-separated usernames allowed);
 *          optional count-submissions = "true" (numbers submissions per queue with the
 *          key-value store: grant [capabilities] key-value) and notify-url (posts
 *          {"text": message} there: grant its host in allowed-outbound-hosts).
 * Params:  priority = low | normal | high (default normal).
 * Failures: a user not in submitters is forbidden; a document id that is not 32
 * hexadecimal characters is not found; an unknown priority fails. `crash=1`
 * traps on purpose, to show how a crash is reported.
 */
#include <ctype.h>
#include "../../guest-sdk/c/docket.h"

static int listed(const char *list, const char *name) {
    size_t len = strlen(name);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && end[-1] == ' ') end--;
        if ((size_t)(end - start) == len && len > 0 && strncmp(start, name, len) == 0) return 1;
    }
    return 0;
}

static int workfront_id(const char *id) {
    if (strlen(id) != 32) return 0;
    for (const char *p = id; *p; p++)
        if (!isxdigit((unsigned char)*p)) return 0;
    return 1;
}

int main(void) {
    docket_request req;
    if (!docket_read_request(&req)) return 0;
    const char *user = docket_get(&req, "username");
    const char *doc = docket_get(&req, "documentId");
    const char *version = docket_get(&req, "documentVersionId");
    const char *submitters = docket_config(&req, "submitters");
    const char *queue = docket_config(&req, "queue");
    const char *priority = docket_param(&req, "priority");
    char message[512];

    const char *crash = docket_param(&req, "crash");
    if (crash && strcmp(crash, "1") == 0) __builtin_trap();

    if (!user || !*user || !submitters || !listed(submitters, user)) {
        snprintf(message, sizeof message, "%s may not submit documents to intake",
                 (user && *user) ? user : "an anonymous user");
        return docket_forbidden(message);
    }
    if (!doc || !workfront_id(doc)) {
        snprintf(message, sizeof message, "document \"%s\" not found", doc ? doc : "");
        return docket_not_found(message);
    }
    if (!priority) priority = "normal";
    if (strcmp(priority, "low") && strcmp(priority, "normal") && strcmp(priority, "high")) {
        snprintf(message, sizeof message, "unknown priority \"%s\"; use low, normal or high", priority);
        return docket_failed(message);
    }
    if (!queue) queue = "Intake";
    snprintf(message, sizeof message, "Queued version %s of document %s in %s with %s priority for %s",
             version ? version : "?", doc, queue, priority, user);

    docket_reply reply;
    const char *count = docket_config(&req, "count-submissions");
    if (count && strcmp(count, "true") == 0) {
        char key[300];
        snprintf(key, sizeof key, "submissions:%s", queue);
        if (!docket_kv_increment(&reply, key, 1)) return docket_failed(docket_reply_error(&reply));
        size_t used = strlen(message);
        snprintf(message + used, sizeof message - used, " (submission #%s)", docket_get(&reply, "value"));
    }
    const char *notify = docket_config(&req, "notify-url");
    if (notify) {
        docket_buffer body = {0};
        docket_buffer_text(&body, "{\"text\":");
        docket_buffer_json_string(&body, message);
        docket_buffer_text(&body, "}");
        int sent = !body.failed && docket_http(&reply, "POST", notify, "application/json", body.data);
        free(body.data);
        const char *status = sent ? docket_get(&reply, "status") : NULL;
        if (!sent || !status || status[0] != '2') {
            char why[600];
            snprintf(why, sizeof why, "could not notify the intake channel: %s",
                     sent ? (status ? status : "no status") : docket_reply_error(&reply));
            return docket_failed(why);
        }
    }
    return docket_success(message);
}
