/* HTTP for the service tests: GET a URL with libcurl, or find a free port.
 *
 *   pk-http get URL     prints the status code on the first line, then the body;
 *                       exit 0 when a response came (any status), 1 otherwise
 *   pk-http free-port   prints a TCP port of 127.0.0.1 free right now */
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "free-port")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) < 0)
            return 1;
        printf("%u\n", (unsigned)ntohs(a.sin_port));
        close(fd);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "get") != 0) {
        fprintf(stderr, "usage: pk-http get URL | pk-http free-port\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *c = curl_easy_init();
    char body[1 << 16];
    FILE *mem = fmemopen(body, sizeof(body), "w");
    curl_easy_setopt(c, CURLOPT_URL, argv[2]);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    fclose(mem);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    if (rc != CURLE_OK) {
        fprintf(stderr, "pk-http: %s\n", curl_easy_strerror(rc));
        return 1;
    }
    printf("%ld\n%s", status, body);
    return 0;
}
