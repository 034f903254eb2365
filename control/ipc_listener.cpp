#include "control/ipc_listener.hpp"
