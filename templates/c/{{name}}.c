/* The {{name}} action: greets the Workfront user who ran it. */
#include "docket/docket.h"

int main(void) {
    docket_request req;
    if (!docket_read_request(&req)) return 0; /* already answered "failed" */
    const char *user = docket_get(&req, "username");
    if (!user || !*user) return docket_forbidden("sign in to Workfront to run {{name}}");
    const char *greeting = docket_config(&req, "greeting");
    char message[512];
    snprintf(message, sizeof message, "%s, %s: {{name}} ran on document %s",
             greeting ? greeting : "Hello", user, docket_get(&req, "documentId"));
    return docket_success(message);
}
