/* pool-op: one backend operation on one pool, for the kernel tests.
 *
 *   pool-op POOL.xml observe|build|start|stop|delete [OPTIONS]
 *     --secrets DIR    secrets directory (CHAP)
 *     --allow-format   policy allow_format
 *     --owned NAME     a volume poolkeeper owns (delete; repeatable)
 *
 * The engine reaches build, start and every volume operation through the
 * planner; stopping a pool or deleting its storage it plans only for pools
 * removed from the desired state, whose definitions it no longer has. The
 * kernel tests use this for those, and to list what a backend observes.
 * observe prints "state STATE", "capacity|allocation|available BYTES",
 * "identity ID" and one line per volume: "vol NAME path=… capacity=…
 * allocation=… key=… identity=… backing=… error=…". Errors go to stderr,
 * exit status 1. */
#include "../../backends/backend.h"
#include <stdio.h>

static void print_obs(const pk_obs_pool *o)
{
    printf("state %s\n", pk_pool_state_to_string(o->state));
    printf("capacity %llu\nallocation %llu\navailable %llu\n", (unsigned long long)o->capacity,
           (unsigned long long)o->allocation, (unsigned long long)o->available);
    printf("identity %s\n", o->identity ? o->identity : "");
    printf("nonempty %s\n", o->nonempty ? "yes" : "no");
    for (size_t i = 0; i < o->n_vols; i++) {
        const pk_obs_vol *v = &o->vols[i];
        printf("vol %s path=%s capacity=%llu allocation=%llu key=%s identity=%s backing=%s error=%s\n",
               v->name, v->path ? v->path : "", (unsigned long long)v->capacity,
               (unsigned long long)v->allocation, v->key ? v->key : "",
               v->identity ? v->identity : "", v->backing_path ? v->backing_path : "",
               v->error ? v->error : "");
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pool-op POOL.xml observe|build|start|stop|delete [--secrets DIR] "
                        "[--allow-format] [--owned NAME]...\n");
        return 2;
    }
    pk_bctx c = { 0 };
    char **owned = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--secrets") && i + 1 < argc)
            c.secrets_dir = argv[++i];
        else if (!strcmp(argv[i], "--allow-format"))
            c.allow_format = true;
        else if (!strcmp(argv[i], "--owned") && i + 1 < argc)
            pk_strv_push(&owned, argv[++i]);
        else {
            fprintf(stderr, "pool-op: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    pk_err *e = NULL;
    pk_pool *p = pk_pool_parse_file(argv[1], &e);
    if (!p) {
        pk_err_print(stderr, e);
        pk_err_free(e);
        return 1;
    }
    const pk_backend *b = pk_backend_for(p->type);
    const char *op = argv[2];
    int r = 0;
    if (!b) {
        r = pk_fail(&e, "pool type '%s' is not supported by this build", pk_pool_type_to_string(p->type));
    } else if (!strcmp(op, "observe")) {
        pk_obs_pool o = { 0 };
        pk_backend_observe(&c, p, &o);
        if (o.error) {
            r = -1;
            e = o.error;
            o.error = NULL;
        } else {
            print_obs(&o);
        }
        pk_obs_pool_clear(&o);
    } else if (!strcmp(op, "build") && b->build) {
        r = b->build(&c, p, &e);
    } else if (!strcmp(op, "start") && b->start) {
        r = b->start(&c, p, &e);
    } else if (!strcmp(op, "stop") && b->stop) {
        r = b->stop(&c, p, &e);
    } else if (!strcmp(op, "delete") && b->delete_pool) {
        r = b->delete_pool(&c, p, owned, &e);
    } else {
        r = pk_fail(&e, "operation '%s' is not available for pool type '%s'", op,
                    pk_pool_type_to_string(p->type));
    }
    if (b && b->close) b->close(&c);
    if (r < 0) pk_err_print(stderr, e);
    pk_err_free(e);
    pk_pool_free(p);
    pk_strv_free(owned);
    return r < 0 ? 1 : 0;
}
