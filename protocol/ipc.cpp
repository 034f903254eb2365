#include "protocol/ipc.hpp"
