/*
 * The module harness._engine: its method table, its constants (SEND_MODES,
 * RECV_MODES, LIBURING, COMPILER) and its init.  Each entry point parses its
 * own arguments in its own file, where the structures they fill are.
 */
#include "engine.h"

#if defined(__clang__)
#define COMPILER_NAME "clang "
#elif defined(__GNUC__)
#define COMPILER_NAME "gcc "
#else
#define COMPILER_NAME ""
#endif

#define KW (METH_VARARGS | METH_KEYWORDS)
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef methods[] = {
    {"bulk_send", FN(eng_bulk_send), KW,
     "bulk_send(fd, duration_ns=0, max_bytes=0, bufsize=131072, interval_ns=100000000, mode='send', "
     "seed=1, corrupt_at=-1)"},
    {"bulk_recv", FN(eng_bulk_recv), KW,
     "bulk_recv(fd, bufsize=131072, interval_ns=100000000, idle_timeout_ns=10000000000, mode='recv', "
     "verify_seed=None, lowat=0)"},
    {"evloop_send", FN(eng_evloop_send), KW,
     "evloop_send(fds, threads=1, duration_ns=0, max_bytes=0, bufsize=131072, interval_ns=100000000, "
     "mode='send', seed=1): many connections on an edge-triggered epoll loop in `threads` threads"},
    {"evloop_recv", FN(eng_evloop_recv), KW,
     "evloop_recv(fds, threads=1, bufsize=131072, interval_ns=100000000, idle_timeout_ns=10000000000, "
     "mode='recv', verify_seed=None, lowat=0)"},
    {"exchange", FN(eng_exchange), KW,
     "exchange(fds, send=-1, idle_timeout_ns=10000000000): send the byte `send` on every "
     "connection (unless -1), then read one byte or EOF from each: {got, cpu_ns, call, errno}"},
    {"rr_client", FN(eng_rr_client), KW,
     "rr_client(fds, request=1, response=1, duration_ns=0, max_transactions=0, idle_timeout_ns, interval_ns)"},
    {"rr_server", FN(eng_rr_server), KW, "rr_server(fds, request=1, response=1, idle_timeout_ns, interval_ns)"},
    {"crr_client", FN(eng_crr_client), KW,
     "crr_client(family, protocol, bind, connect, port, request=1, response=1, duration_ns=0, "
     "max_transactions=0, idle_timeout_ns, interval_ns)"},
    {"crr_server", FN(eng_crr_server), KW, "crr_server(listen_fd, request=1, response=1, idle_timeout_ns, interval_ns)"},
    {"mptcp_full_info", eng_mptcp_full_info, METH_VARARGS, "mptcp_full_info(fd, max_subflows=16)"},
    {"mptcp_subflow_data", eng_mptcp_subflow_data, METH_VARARGS,
     "mptcp_subflow_data(fd, optname, max_subflows=16): MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS"},
    {"setns", eng_setns, METH_VARARGS, "setns(fd): enter the network namespace open at fd"},
    {"set_pdeathsig", eng_set_pdeathsig, METH_VARARGS, "set_pdeathsig(sig)"},
    {"request_stop", eng_request_stop, METH_NOARGS,
     "request_stop(): the running loop ends with its result so far at its next EINTR"},
    {"unshare_net", eng_unshare_net, METH_NOARGS, "unshare_net(): a new network namespace for this thread"},
    {NULL, NULL, 0, NULL},
};

static PyObject *names_tuple(const char **names, Py_ssize_t count)
{
    PyObject *t = PyTuple_New(count);
    for (Py_ssize_t i = 0; t && i < count; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (!s) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

#define NAMES(a) names_tuple(a, (Py_ssize_t)COUNT(a))

static int exec_module(PyObject *m)
{
    PyObject *uring = eng_liburing ? Py_True : Py_False;
    Py_INCREF(uring);
    if (PyModule_AddObject(m, "SEND_MODES", NAMES(eng_send_mode_names)) < 0 ||
        PyModule_AddObject(m, "RECV_MODES", NAMES(eng_recv_mode_names)) < 0 ||
        PyModule_AddObject(m, "LIBURING", uring) < 0 ||
        PyModule_AddIntConstant(m, "MAX_FLOWS", MAX_FLOWS) < 0)
        return -1;
#ifdef __VERSION__
    return PyModule_AddStringConstant(m, "COMPILER", COMPILER_NAME __VERSION__);
#else
    return PyModule_AddStringConstant(m, "COMPILER", "unknown");
#endif
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "harness._engine", "mptcp-bench traffic engine hot loops", 0, methods,
    slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__engine(void) { return PyModuleDef_Init(&module); }
