/* The single-writer lock between real processes: two forked writers race
 * for it and exactly one wins, the loser is told who holds it at once; a
 * holder that dies releases it, and its run is found interrupted with its
 * unfinished intents. */
#include "fixtures.h"
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static char *db;

typedef struct {
    pid_t pid;
    int report;               /* read end: "W" won / "L<message>" lost */
    int release;              /* write end: close it to let the winner go */
} racer;

/* A child that opens the store, waits for the start signal, tries the lock
 * once and reports; a winner holds the lock until told to let go. */
static racer start_racer(int start_fd, int start_w)
{
    int rep[2], rel[2];
    if (pipe(rep) < 0 || pipe(rel) < 0) tap_bail("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        close(rep[0]);
        close(rel[1]);
        close(start_w);
        pk_store *s = NULL;
        pk_err *err = NULL;
        int rc = 0;
        if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0) {
            dprintf(rep[1], "E%s", fx_err(err));
            _exit(3);
        }
        char c;
        if (read(start_fd, &c, 1) < 0) _exit(4);   /* EOF = go */
        if (pk_store_lock(s, &err) == 0) {
            if (write(rep[1], "W", 1) != 1) rc = 5;
            /* Hold it until the parent has checked the loser. */
            if (read(rel[0], &c, 1) < 0) rc = 6;
        } else {
            _cleanup_free_ char *t = fx_err(err);
            dprintf(rep[1], "L%s", t);
        }
        close(rep[1]);
        pk_store_close(s);
        _exit(rc);
    }
    close(rep[1]);
    close(rel[0]);
    return (racer){ .pid = pid, .report = rep[0], .release = rel[1] };
}

static char *read_all(int fd)
{
    pk_buf b = PK_BUF_INIT;
    char tmp[1024];
    ssize_t r;
    while ((r = read(fd, tmp, sizeof(tmp))) > 0) pk_buf_addn(&b, tmp, (size_t)r);
    close(fd);
    return b.s ? pk_buf_steal(&b) : pk_strdup("");
}

static int wait_child(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_race(int round)
{
    int start[2];
    if (pipe(start) < 0) tap_bail("pipe");
    racer a = start_racer(start[0], start[1]);
    racer b = start_racer(start[0], start[1]);
    close(start[0]);
    /* Let both open first, so they race for the lock and not for the open. */
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    close(start[1]);

    /* The winner reports "W" and keeps its pipe open; the loser reports and
     * closes it. Read the loser's report completely (it ends at EOF), and
     * one byte from the winner. */
    char ca = 0, cb = 0;
    if (read(a.report, &ca, 1) != 1 || read(b.report, &cb, 1) != 1) tap_bail("a racer reported nothing");
    bool a_won = ca == 'W', b_won = cb == 'W';
    racer *winner = a_won ? &a : &b, *loser = a_won ? &b : &a;
    _cleanup_free_ char *loser_msg = read_all(loser->report);
    tap_ok(a_won != b_won, "round %d: exactly one of two racing writers gets the lock", round);
    char want[256];
    snprintf(want, sizeof(want), "state database '%s' is locked by pid %d since ", db, (int)winner->pid);
    tap_ok(strstr(loser_msg, want) != NULL, "round %d: the other is told at once who holds it", round);
    if (!strstr(loser_msg, want)) tap_diag("got: %s\nwanted: %s...", loser_msg, want);

    int hpid = 0;
    int64_t since = 0;
    pk_err *err = NULL;
    tap_ok(pk_store_lock_holder(db, &hpid, &since, &err) == 1 && hpid == winner->pid &&
               since > pk_now_ms() - 60000,
           "round %d: a reader sees the holder without taking the lock", round);

    close(winner->release);
    close(loser->release);
    free(read_all(winner->report));
    tap_is_int(wait_child(a.pid), 0, "round %d: first racer exits cleanly", round);
    tap_is_int(wait_child(b.pid), 0, "round %d: second racer exits cleanly", round);
    tap_is_int(pk_store_lock_holder(db, &hpid, &since, &err), 0, "round %d: released when the holder let go", round);
    pk_err_free(err);
}

/* A holder that dies mid-run: the lock is free at once, the run is marked
 * interrupted by the next writer and its unanswered intents are listed. */
static int crash_child(void *arg PK_UNUSED, FILE *out)
{
    pk_store *s = NULL;
    pk_err *err = NULL;
    int64_t run = 0;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0 ||
        pk_store_run_begin(s, "c0ffee", "main", &run, &err) < 0) {
        fprintf(out, "%s", fx_err(err));
        return 3;
    }
    pk_action acts[3] = {
        { .kind = PK_ACT_VOL_CREATE, .pool = "p", .vol = "a", .after = "1 GiB" },
        { .kind = PK_ACT_VOL_CREATE, .pool = "p", .vol = "b", .after = "2 GiB" },
        { .kind = PK_ACT_VOL_DELETE, .pool = "p", .vol = "c", .risk = PK_RISK_DESTRUCTIVE },
    };
    pk_journal_intent in[3] = { { 0, &acts[0] }, { 1, &acts[1] }, { 2, &acts[2] } };
    pk_journal_result res[1] = { { .seq = 0, .state = PK_JOURNAL_DONE, .own = PK_OWN_TAKE_CREATED,
                                   .identity = "1:1" } };
    if (pk_store_journal_intents(s, run, in, 3, &err) < 0 ||
        pk_store_journal_results(s, run, res, 1, &err) < 0) {
        fprintf(out, "%s", fx_err(err));
        return 4;
    }
    fprintf(out, "%lld", (long long)run);
    fflush(out);
    /* Die as kill -9 would: no unlock, no run end, no close. */
    raise(SIGKILL);
    return 5;
}

static void test_crash(void)
{
    _cleanup_free_ char *out = NULL;
    int rc = fx_child(crash_child, NULL, &out);
    tap_is_int(rc, 128 + SIGKILL, "a writer killed in the middle of a run");
    int64_t run = atoll(out);
    tap_ok(run > 0, "it had begun run %lld", (long long)run);

    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0) tap_bail("%s", fx_err(err));
    pk_run r = { 0 };
    tap_ok(pk_store_run_get(s, run, &r, &err) == 1 && r.result == PK_RUN_RUNNING,
           "before anyone takes the lock, the run still says running");
    pk_run_clear(&r);
    tap_ok(pk_store_lock(s, &err) == 0, "the next writer gets the lock at once");
    tap_ok(pk_store_run_get(s, run, &r, &err) == 1 && r.result == PK_RUN_INTERRUPTED && r.ended_ms == 0,
           "and finds the dead run interrupted");
    tap_ok(r.n_actions == 3 && r.n_done == 1, "with its journal counted (3 actions, 1 done)");
    pk_run_clear(&r);

    pk_journal_entry *e = NULL;
    size_t n = 0;
    tap_ok(pk_store_journal_unfinished(s, &e, &n, &err) == 0 && n == 2, "its two unanswered intents are unfinished");
    if (n == 2) {
        tap_ok(e[0].run == run && e[0].seq == 1 && pk_streq(e[0].vol, "b") && e[0].kind == PK_ACT_VOL_CREATE,
               "first: vol.create p/b");
        tap_ok(e[1].seq == 2 && e[1].kind == PK_ACT_VOL_DELETE && e[1].risk == PK_RISK_DESTRUCTIVE,
               "second: vol.delete p/c, destructive");
    }
    pk_journal_entries_free(e, n);

    /* Recovery re-observes and answers them; then nothing is unfinished. */
    pk_journal_result res[2] = {
        { .seq = 1, .state = PK_JOURNAL_FAILED, .error = "interrupted; not found on re-observation" },
        { .seq = 2, .state = PK_JOURNAL_DONE, .own = PK_OWN_RELEASE, .vol_gone = true },
    };
    tap_ok(pk_store_journal_results(s, run, res, 2, &err) == 0, "the intents of the dead run can be answered");
    e = NULL;
    tap_ok(pk_store_journal_unfinished(s, &e, &n, &err) == 0 && n == 0, "then nothing is unfinished");
    pk_journal_entries_free(e, n);

    /* A running run of a live holder is never unfinished. */
    int64_t mine = 0;
    pk_action a = { .kind = PK_ACT_POOL_START, .pool = "p" };
    pk_journal_intent in = { 0, &a };
    if (pk_store_run_begin(s, "c0ffee", "main", &mine, &err) < 0 || pk_store_journal_intents(s, mine, &in, 1, &err) < 0)
        tap_bail("%s", fx_err(err));
    e = NULL;
    tap_ok(pk_store_journal_unfinished(s, &e, &n, &err) == 0 && n == 0,
           "the intents of the running run are not unfinished");
    pk_journal_entries_free(e, n);
    pk_store_close(s);

    /* Closing without ending the run, then a new writer: interrupted. */
    s = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0) tap_bail("%s", fx_err(err));
    tap_ok(pk_store_run_get(s, mine, &r, &err) == 1 && r.result == PK_RUN_INTERRUPTED,
           "a run left running by a closed writer is interrupted for the next");
    pk_run_clear(&r);
    pk_store_close(s);
    pk_err_free(err);
}

static void test_rules(void)
{
    pk_store *s = NULL, *t = NULL, *ro = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_open(db, PK_STORE_WRITE, &t, &err) < 0 ||
        pk_store_open(db, PK_STORE_READ, &ro, &err) < 0)
        tap_bail("%s", fx_err(err));
    int64_t run = 0;
    tap_ok(pk_store_run_begin(s, NULL, NULL, &run, &err) < 0, "no run without the lock");
    _cleanup_free_ char *t1 = fx_err(err);
    tap_ok(strstr(t1, "without holding its lock") != NULL, "and it says so");
    pk_err_free(err);
    err = NULL;
    tap_ok(pk_store_lock(s, &err) == 0 && pk_store_locked(s), "one handle takes the lock");
    tap_ok(pk_store_lock(s, &err) == 0, "taking it again is a no-op");
    tap_ok(pk_store_lock(t, &err) < 0 && !pk_store_locked(t), "a second handle in the same process is refused too");
    pk_err_free(err);
    err = NULL;
    tap_ok(pk_store_lock(ro, &err) < 0, "a READ handle cannot lock");
    pk_err_free(err);
    err = NULL;
    pk_run r = { 0 };
    tap_ok(pk_store_run_begin(s, "abc", "main", &run, &err) == 0 && pk_store_run_get(ro, run, &r, &err) == 1 &&
               r.result == PK_RUN_RUNNING && r.pid == getpid(),
           "readers see the writer's running run (no lock needed)");
    pk_run_clear(&r);
    tap_ok(pk_store_run_end(s, run, PK_RUN_OK, NULL, &err) == 0, "the run ends");
    tap_ok(pk_store_run_end(s, run, PK_RUN_OK, NULL, &err) < 0, "a run ends once");
    pk_err_free(err);
    err = NULL;
    pk_store_unlock(s);
    tap_ok(!pk_store_locked(s) && pk_store_lock(t, &err) == 0, "after unlock the other handle gets it");
    pk_store_close(t);
    tap_ok(pk_store_lock(s, &err) == 0, "closing a holder releases the lock");
    pk_store_close(s);
    pk_store_close(ro);
    pk_err_free(err);
}

int main(void)
{
    _cleanup_free_ char *tmp = tap_tmpdir("store-lock");
    db = pk_asprintf("%s/state.db", tmp);
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0) tap_bail("%s", fx_err(err));
    pk_store_close(s);
    for (int i = 1; i <= 10; i++) test_race(i);
    test_crash();
    test_rules();
    free(db);
    return tap_done();
}
