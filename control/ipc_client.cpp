#include "control/ipc_client.hpp"
