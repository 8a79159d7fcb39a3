/* sluice: multithreaded, checkpointed dataflow pipelines for numerical ML. */
#ifndef SLUICE_H
#define SLUICE_H

#include "sluice/cpu.h"
#include "sluice/error.h"
#include "sluice/frame.h"
#include "sluice/op.h"
#include "sluice/pipeline.h"
#include "sluice/plugin.h"
#include "sluice/slurm.h"
#include "sluice/version.h"

#endif
