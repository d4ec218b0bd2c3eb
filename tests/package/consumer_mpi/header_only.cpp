// Compiled without MPI's include path: vknorm/mpi_communicator.hpp needs no <mpi.h>.
#include <vknorm/mpi_communicator.hpp>

int consumer_mpi_rank(vknorm::Communicator& comm) { return comm.rank(); }
