#include "actors/daemon_options.hpp"
