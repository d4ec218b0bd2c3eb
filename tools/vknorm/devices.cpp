// `vknorm devices`: written in issue 4.
#include "commands.hpp"
