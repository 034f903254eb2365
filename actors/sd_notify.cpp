#include "actors/sd_notify.hpp"
