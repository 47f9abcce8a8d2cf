/*
 * The calling process or thread: its network namespace, and its death with
 * the orchestrator.
 */
#include "engine.h"

#include <sched.h>
#include <sys/prctl.h>

PyObject *eng_setns(PyObject *self, PyObject *args)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd))
        return NULL;
    if (setns(fd, CLONE_NEWNET) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* A new network namespace for the calling thread only (the orchestrator's
 * other threads, and the process, stay where they are). */
PyObject *eng_unshare_net(PyObject *self, PyObject *noargs)
{
    if (unshare(CLONE_NEWNET) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* Workers die with the orchestrator, even when it is SIGKILLed. */
PyObject *eng_set_pdeathsig(PyObject *self, PyObject *args)
{
    int sig;
    if (!PyArg_ParseTuple(args, "i", &sig))
        return NULL;
    if (prctl(PR_SET_PDEATHSIG, sig) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}
